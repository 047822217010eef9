# Airlock service image: harness and runner (same image, different command; see
# docker-compose.yml). FROM the Node/dependency layer (airlock-service-deps:<hash>, exact image
# ID) plus the project's sources, run directly by tsx. Built by images/build-service.sh with
# --network none; nothing is downloaded.
ARG DEPS_IMAGE
FROM ${DEPS_IMAGE}

COPY app/ /opt/airlock/

LABEL airlock.service=app
WORKDIR /opt/airlock
USER 10100:10100
# The harness by default; the runner service sets its own command.
# --no-turbo-inline-js-wasm-calls: see harness/README.md ("Why the harness runs with
# --no-turbo-inline-js-wasm-calls").
CMD ["node", "--no-turbo-inline-js-wasm-calls", "--import", "tsx", "harness/server.ts"]
