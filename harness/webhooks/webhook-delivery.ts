/**
 * Webhook delivery: when a task that has a `callbackUrl` ends, Airlock POSTs the task to it,
 * signed per Standard Webhooks with the tenant's secret (signature.ts); also when one of its
 * capability calls starts waiting for a human's approval (`task.waiting_approval`, once per
 * approval request: the body is the task as it is when delivered).
 *
 * Durable and once per event: every harness hears every task's end (the task-events channel);
 * each one whose task has a callbackUrl adds a BullMQ job whose id is `<task id>.<status>` (for
 * `waiting_approval`, `<task id>.waiting_approval.<n>`, n = how many approval requests the task
 * has had, so each request gets its own and every harness names it alike), so
 * however many harnesses heard it there is one job, delivered by whichever harness takes it.
 * A failed delivery (no answer, or not 2xx) is retried with exponential backoff
 * (WEBHOOK_MAX_ATTEMPTS); `webhook-id` stays the same on every try, so a receiver can drop
 * repeats. The target is SSRF-checked on every try like a capability call (resolved once,
 * refused if loopback/private/link-local/metadata unless WEBHOOK_PRIVATE_TARGETS opens it); a
 * refused target is not retried.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { isTerminal, type TaskStatus } from '../../protocol/task.ts';
import { approvalKeys } from '../../protocol/approval.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import type { TaskStore } from '../../protocol/task-store.ts';
import { guardedRequest, OutboundRefusedError } from '../broker/outbound/guarded-request.ts';
import type { PrivateTarget } from '../broker/outbound/private-targets.ts';
import { systemResolver, TargetRefusedError, type Resolver } from '../broker/outbound/resolve-target.ts';
import type { ApprovalStore } from '../approvals/approval-store.ts';
import { toTaskViewWithApprovals } from '../schemas/tasks.ts';
import type { TaskNotifier } from '../tasks/task-notifier.ts';
import { signWebhook } from './signature.ts';
import type { WebhookSecrets } from './webhook-secrets.ts';

export interface WebhookDeliveryOptions {
  redis: Redis;
  /** A connection BullMQ may block on. */
  queueConnection: Redis;
  queueName: string;
  store: TaskStore;
  notifier: TaskNotifier;
  secrets: WebhookSecrets;
  opened: readonly PrivateTarget[];
  maxAttempts: number;
  /** First retry delay; doubles each time. */
  backoffMs: number;
  timeoutMs: number;
  resolver?: Resolver;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** A waiting task's body names the approval requests it waits for. */
  approvals?: ApprovalStore;
}

interface DeliveryJob {
  taskId: string;
  status: TaskStatus;
}

/** Bodies are at most this large (a task view with its output is ≤ ~2.1 MiB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class WebhookDelivery {
  readonly queue: Queue<DeliveryJob>;
  readonly #worker: Worker<DeliveryJob>;
  /** The worker blocks on its own connection; BullMQ leaves a given connection open on close. */
  readonly #workerConnection: Redis;
  readonly #unsubscribe: () => void;
  readonly #o: WebhookDeliveryOptions;

  constructor(o: WebhookDeliveryOptions) {
    this.#o = o;
    this.queue = new Queue<DeliveryJob>(o.queueName, { connection: o.queueConnection });
    this.queue.on('error', () => {});
    this.#workerConnection = o.queueConnection.duplicate({ maxRetriesPerRequest: null });
    this.#workerConnection.on('error', () => {});
    this.#worker = new Worker<DeliveryJob>(o.queueName, (job) => this.#deliver(job), {
      connection: this.#workerConnection,
      concurrency: 16,
    });
    this.#worker.on('error', () => {});
    this.#worker.on('failed', (job, err) => {
      if (job && (job.attemptsMade >= o.maxAttempts || err instanceof UnrecoverableError)) {
        o.log('webhook delivery failed for good', { taskId: job.data.taskId, status: job.data.status, attempts: job.attemptsMade, err: err.message });
      }
    });
    this.#unsubscribe = o.notifier.subscribeAll((taskId, what) => {
      if (what === 'waiting_approval' || (what && what !== 'output' && isTerminal(what))) void this.#enqueue(taskId, what);
    });
  }

  async #enqueue(taskId: string, status: TaskStatus): Promise<void> {
    try {
      const [url, tenantId] = await this.#o.redis.hmget(redisKeys.task(taskId), 'callbackUrl', 'tenantId');
      if (!url) return;
      let jobId = `${taskId}.${status}`;
      if (status === 'waiting_approval') {
        if (!tenantId) return;
        jobId += `.${await this.#o.redis.scard(approvalKeys.ofTask(tenantId, taskId))}`;
      }
      await this.queue.add('deliver', { taskId, status }, {
        jobId,
        attempts: this.#o.maxAttempts,
        backoff: { type: 'exponential', delay: this.#o.backoffMs },
        // Kept a day after success: a late duplicate add (another harness) finds it and adds nothing.
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
    } catch (err) {
      this.#o.log('webhook delivery could not be queued', { taskId, err: (err as Error).message });
    }
  }

  async #deliver(job: Job<DeliveryJob>): Promise<void> {
    const task = await this.#o.store.get(job.data.taskId);
    if (!task?.callbackUrl) return; // expired or never had one: nothing to send
    const secret = await this.#o.secrets.reveal(task.tenantId);
    if (!secret) throw new UnrecoverableError('the tenant has no webhook secret (POST /v1/admin/webhooks/secret)');
    const id = `msg_${job.id}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: `task.${job.data.status}`, timestamp: new Date().toISOString(), data: await toTaskViewWithApprovals(task, this.#o.approvals) });
    const signal = AbortSignal.timeout(this.#o.timeoutMs);
    try {
      const answer = await guardedRequest(
        {
          url: new URL(task.callbackUrl),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Airlock-Webhooks/1',
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(secret, id, timestamp, body),
          },
          body: Buffer.from(body),
        },
        {
          resolver: this.#o.resolver ?? systemResolver,
          opened: this.#o.opened,
          maxRequestBytes: MAX_BODY_BYTES,
          maxResponseBytes: 64 * 1024,
          signal,
          // A redirect is not followed: the receiver is the URL the agent gave.
          maxRedirects: 0,
          hopRefused: () => null,
        },
      );
      if (answer.status < 200 || answer.status > 299) throw new Error(`the receiver answered ${answer.status}`);
    } catch (err) {
      if (err instanceof OutboundRefusedError || err instanceof TargetRefusedError) {
        throw new UnrecoverableError(`the callback URL is refused: ${err.message}`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await this.#worker.close();
    await this.queue.close();
    this.#workerConnection.disconnect();
  }
}
