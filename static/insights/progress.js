/*
 * Live progress of a sending campaign (templates/admin/campaigns/campaign/_progress.html).
 *
 * Polls the progress endpoint every `data-interval-ms` (2 s) while the campaign is live (every
 * 30 s while an A/B test waits hours for its winner), one request at a time, skipping ticks while the tab is hidden; stops for good once the endpoint
 * says the campaign is no longer live. No inline script: the page's Content-Security-Policy
 * may forbid them.
 */
(function () {
  "use strict";

  var root = document.getElementById("campaign-progress");
  if (!root) {
    return;
  }
  var url = root.dataset.progressUrl;
  var interval = Number(root.dataset.intervalMs) || 2000;
  var number = new Intl.NumberFormat();
  var waitingInterval = Math.max(interval, 30000);
  var when = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

  function field(name) {
    return root.querySelector('[data-progress="' + name + '"]');
  }

  function setText(name, text) {
    var element = field(name);
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return "—";
    }
    if (seconds < 60) {
      return seconds + " s";
    }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) {
      return minutes + " min " + (seconds % 60) + " s";
    }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function stateText(progress) {
    if (progress.note && progress.live) {
      return progress.note;  // waiting for the pace, or why it is paused
    }
    if (!progress.live) {
      return "Done: " + progress.status.toLowerCase() + ".";
    }
    if (!progress.audience_frozen) {
      return "Preparing the audience…";
    }
    return progress.status.charAt(0) + progress.status.slice(1).toLowerCase() + "…";
  }

  function render(progress) {
    var bar = document.getElementById("campaign-progress-bar");
    bar.value = progress.percent;
    bar.textContent = progress.percent + " %";
    setText("accepted", number.format(progress.accepted));
    setText("total", number.format(progress.total));
    setText("percent", String(progress.percent));
    setText("rate", progress.rate_per_second === null ? "—" : number.format(progress.rate_per_second) + " / s");
    setText("eta", duration(progress.eta_seconds));
    setText("failed", number.format(progress.failed));
    setText("unknown", number.format(progress.unknown));
    setText("remaining", number.format(progress.remaining));
    setText("state", stateText(progress));
    var decision = field("decision");
    if (decision) {
      decision.hidden = !progress.ab_decide_at || Boolean(progress.ab_winner);
      if (progress.ab_decide_at) { setText("decide_at", when.format(new Date(progress.ab_decide_at))); }
    }
    if (root.dataset.status === "WAITING_FOR_WINNER" && progress.ab_winner && field("decided")) {
      field("decided").hidden = false;  // decided while this page was open: the reason is on the reloaded page
    }
    root.dataset.status = progress.status;
    root.dataset.live = progress.live ? "true" : "false";
    field("done").hidden = progress.live;
  }

  function nextTick(status) {
    return status === "WAITING_FOR_WINNER" ? waitingInterval : interval;
  }

  function poll() {
    if (document.hidden) {
      window.setTimeout(poll, interval);
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          // Signed out, role changed or campaign deleted: polling again will not help.
          setText("state", "Progress unavailable (" + response.status + "); reload the page.");
          return null;
        }
        return response.json();
      })
      .then(function (progress) {
        if (progress === null) {
          return;
        }
        render(progress);
        if (progress.live) {
          window.setTimeout(poll, nextTick(progress.status));
        }
      })
      .catch(function () {
        // A network hiccup: the next tick tries again.
        window.setTimeout(poll, interval);
      });
  }

  if (root.dataset.live === "true") {
    window.setTimeout(poll, nextTick(root.dataset.status));
  }
})();
