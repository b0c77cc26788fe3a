// The phase countdown, shared by the phone, the projector and the console. The server sends
// `phase_ends_at` with its own clock (`server_time`), so a phone whose clock is minutes off
// still counts down right. Nothing closes when it reaches zero: it says the time is up.
import { t } from "./socket.js";

/** ISO time from the server (microseconds allowed) -> epoch milliseconds, or null. */
function parseTime(text) {
  if (!text) return null;
  const ms = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? ms : null;
}

/** 65000 -> "01:05"; an hour or more -> "1:00:05". */
export function clock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * A countdown drawn into `el` (a role="timer" element holding .timer-label and .timer-value).
 * `update(workshop)` takes each new state's workshop; `onChange(left)` (optional) hears about
 * whole seconds left (null when no countdown runs), e.g. to announce the last minute.
 */
export function countdown(el, onChange) {
  let endsAt = null;
  let skew = 0; // server clock minus this device's clock
  let timerId = null;
  let shown = "";
  const label = el.querySelector(".timer-label");
  const value = el.querySelector(".timer-value");

  function draw() {
    if (endsAt === null) {
      el.hidden = true;
      el.dataset.state = "off";
      shown = "";
      if (onChange) onChange(null);
      return;
    }
    const left = endsAt - (Date.now() + skew);
    const text = clock(left);
    const state = left <= 0 ? "up" : left <= 60000 ? "last-minute" : "running";
    el.hidden = false;
    if (text !== shown || el.dataset.state !== state) {
      shown = text;
      el.dataset.state = state;
      label.textContent = state === "up" ? t("time_up") : t("time_left");
      value.textContent = text;
      if (onChange) onChange(Math.max(0, Math.ceil(left / 1000)));
    }
    if (left <= 0) stop();
  }

  function stop() {
    clearInterval(timerId);
    timerId = null;
  }

  return {
    update(workshop) {
      const server = parseTime(workshop && workshop.server_time);
      if (server !== null) skew = server - Date.now();
      const next = parseTime(workshop && workshop.phase_ends_at);
      if (next === endsAt && (timerId || next === null)) return;
      endsAt = next;
      stop();
      shown = "";
      draw();
      if (endsAt !== null && endsAt - (Date.now() + skew) > 0) timerId = setInterval(draw, 250);
    },
    /** Milliseconds left, or null without a countdown. */
    left: () => (endsAt === null ? null : Math.max(0, endsAt - (Date.now() + skew))),
  };
}
