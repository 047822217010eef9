// Deadline countdowns: every element with data-deadline (an ISO time) shows the time left.
const tick = () => {
  for (const el of document.querySelectorAll('[data-deadline]')) {
    const left = Date.parse(el.dataset.deadline) - Date.now();
    if (Number.isNaN(left)) continue;
    if (left <= 0) {
      el.textContent = 'expired';
      continue;
    }
    const s = Math.floor(left / 1000);
    el.textContent = `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s left`;
  }
};
tick();
setInterval(tick, 1000);
