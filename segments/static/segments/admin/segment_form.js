// The segment builder's live parts: the count follows the criteria as they are edited (debounced),
// values picked from those users have are added one per line, and values that match nobody are
// flagged beside their field. Nothing here saves the segment.
(function () {
  "use strict";

  function ready(start) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
  }

  ready(function () {
    var form = document.getElementById("segment_form");
    var live = document.getElementById("segment-live-count");
    if (!form || !live) { return; }
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var timer = null;
    var sequence = 0;

    function refresh() {
      var mine = ++sequence;
      live.querySelector("[data-live=state]").textContent = "Counting…";
      fetch(live.dataset.url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" }
      }).then(function (response) { return response.json(); }).then(function (answer) {
        if (mine !== sequence) { return; }  // a newer edit's answer is coming
        live.querySelector("[data-live=matching]").textContent = answer.matching_text || "—";
        live.querySelector("[data-live=reachable]").textContent = answer.reachable_text || "—";
        live.querySelector("[data-live=state]").textContent = answer.error || "";
        live.dataset.updated = String(mine);
        ["states", "traffic_sources"].forEach(function (name) {
          var note = document.getElementById(name + "-unmatched");
          var unmatched = (answer.unmatched || {})[name] || [];
          if (!note) { return; }
          note.textContent = unmatched.length
            ? "Matches nobody yet: " + unmatched.map(function (value) { return "“" + value + "”"; }).join(", ") +
              ". Check the spelling, or keep it for people who will have it."
            : "";
          note.hidden = !unmatched.length;
        });
      });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    // Autocomplete pickers (properties, agents, partners) and the country chooser announce
    // their changes through jQuery or by moving options, not always with a native event.
    if (window.django && window.django.jQuery) { window.django.jQuery(form).on("change", "select", later); }
    form.addEventListener("click", function (event) {
      if (event.target.closest(".selector-chooser, .selector-chooseall, .selector-clearall")) { later(); }
    });

    document.querySelectorAll(".segment-pick").forEach(function (pick) {
      var input = pick.querySelector(".segment-pick-input");
      var target = document.getElementById(pick.dataset.target);
      function add() {
        var value = input.value.trim();
        if (!value) { return; }
        var lines = target.value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
        if (lines.indexOf(value) === -1) { lines.push(value); }
        target.value = lines.join("\n");
        input.value = "";
        later();
      }
      pick.querySelector(".segment-pick-add").addEventListener("click", add);
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); add(); }
      });
    });
  });
})();
