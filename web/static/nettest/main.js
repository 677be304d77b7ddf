// The network test page: buttons, progress and the verdict. Measurement lives in probe.js.
import { EchoBusyError, runTest, saveResult } from "./probe.js";

const config = JSON.parse(document.getElementById("nettest-config").textContent);
const t = config.strings;
const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const csrf = csrfMeta ? csrfMeta.content : "";

const startButton = document.getElementById("nettest-start");
const status = document.getElementById("nettest-status");
const progress = document.getElementById("nettest-progress");
const resultBox = document.getElementById("nettest-result");
const verdictEl = document.getElementById("nettest-verdict");
const advice = document.getElementById("nettest-advice");
const checks = document.getElementById("nettest-checks");

// Read by the room's pre-join screen: the low-bandwidth mode is pre-selected after a
// "reduced" verdict, and the last verdict is shown there.
const LOW_BANDWIDTH_KEY = "telemed.lowBandwidth";
const VERDICT_KEY = "telemed.networkVerdict";

const UNITS = { rtt_ms: t.ms, jitter_ms: t.ms, loss_pct: "%", bitrate_kbps: t.kbps, fps: t.fps };

function showFigures(figures) {
  document.querySelectorAll("[data-figure]").forEach((cell) => {
    const name = cell.dataset.figure;
    const value = figures ? figures[name] : null;
    cell.textContent = value === null || value === undefined
      ? t.none
      : `${value.toLocaleString(document.documentElement.lang || "vi")} ${UNITS[name]}`;
  });
}

function showVerdict(verdict, figures) {
  verdictEl.textContent = t[`verdict_${verdict}`];
  verdictEl.dataset.verdict = verdict;
  advice.textContent = t[`advice_${verdict}`];
  checks.replaceChildren();
  if (verdict === "failed") {
    for (const key of ["check_network", "check_firewall", "check_udp", "check_turn"]) {
      const item = document.createElement("li");
      item.textContent = t[key];
      checks.append(item);
    }
  }
  showFigures(figures);
  resultBox.hidden = false;
  try {
    localStorage.setItem(VERDICT_KEY, JSON.stringify({ verdict, at: new Date().toISOString() }));
    if (verdict === "reduced" || verdict === "audio") localStorage.setItem(LOW_BANDWIDTH_KEY, "1");
    else if (verdict === "video") localStorage.removeItem(LOW_BANDWIDTH_KEY);
  } catch {
    // Storage may be disabled; the verdict on screen is what matters.
  }
}

function onProgress(phase, fraction) {
  status.textContent = t[phase];
  progress.hidden = false;
  progress.value = Math.round(fraction * 100);
}

async function start() {
  startButton.disabled = true;
  resultBox.hidden = true;
  let outcome;
  try {
    outcome = await runTest({
      offerUrl: config.offer_url, closeUrl: config.close_url, csrf,
      seconds: config.seconds, onProgress,
    });
  } catch (error) {
    progress.hidden = true;
    const name = error && error.name;
    if (error instanceof EchoBusyError) status.textContent = t.busy;
    else if (name === "NotAllowedError" || name === "NotFoundError") status.textContent = t.noDevices;
    else status.textContent = String((error && error.message) || error);
    startButton.disabled = false;
    return;
  }
  outcome.stream.getTracks().forEach((track) => track.stop());
  status.textContent = t.saving;
  const figures = outcome.figures || {};
  const claimed = outcome.connected ? "video" : "failed";
  let verdict = claimed;
  try {
    const saved = await saveResult(config.results_url, csrf, {
      ...figures, verdict: claimed, user_agent: navigator.userAgent.slice(0, 300),
    });
    verdict = saved.verdict;
    status.textContent = "";
  } catch {
    status.textContent = t.saveFailed;
  }
  progress.hidden = true;
  showVerdict(verdict, outcome.figures);
  startButton.textContent = t.again;
  startButton.disabled = false;
}

startButton.addEventListener("click", start);
