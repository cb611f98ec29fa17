// The campaign page's live parts: the preview follows the editor, the reachable count follows the
// audience picker, the From line follows the sender fields, test sends take what the page holds
// (the campaign, or the A/B variant row chosen above the preview), and actions wait for unsaved
// changes to be saved. Every request goes to the campaign admin's
// own URLs (campaigns/admin/live.py); nothing here saves a campaign.
(function () {
  "use strict";

  function debounce(run, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(run, wait);
    };
  }

  function ready(start) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }

  ready(function () {
    var page = document.getElementById("campaign-page");
    var form = document.getElementById("campaign_form");
    if (!page || !form) { return; }
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    var token = csrf ? csrf.value : "";
    var contentNames = ["subject", "preheader", "body_html", "body_text", "from_name", "from_email", "reply_to", "layout"];

    function field(name) { return form.querySelector("[name=" + name + "]"); }

    // --- A/B variants: the inline's rows ("variants-0-subject", ...) --------------------------
    var variantNames = ["label", "subject", "preheader", "from_name", "body_html", "body_text"];
    var variantChoice = document.getElementById("campaign-preview-variant");

    function variantRows() {
      return Array.prototype.filter.call(
        document.querySelectorAll("#variants-group .inline-related"),
        function (row) { return row.id && !row.classList.contains("empty-form") && row.id !== "variants-empty"; }
      );
    }

    function rowLabel(row) {
      var select = row.querySelector("[name$='-label']");
      return select && select.value ? select.value : "?";
    }

    function fillVariantChoices() {
      if (!variantChoice) { return; }
      var chosen = variantChoice.value;
      var options = [variantChoice.options[0]];
      variantRows().forEach(function (row) {
        var option = document.createElement("option");
        option.value = row.id;
        option.textContent = "variant " + rowLabel(row);
        options.push(option);
      });
      variantChoice.replaceChildren.apply(variantChoice, options);
      variantChoice.value = document.getElementById(chosen) ? chosen : "";
      var testButton = document.getElementById("campaign-test-button");
      if (testButton) {
        var row = variantChoice.value ? document.getElementById(variantChoice.value) : null;
        testButton.textContent = row ? "Send test of variant " + rowLabel(row) : "Send test";
      }
    }

    function pageContent() {
      var data = new FormData();
      contentNames.forEach(function (name) {
        var input = field(name);
        if (input) { data.append(name, input.value); }
      });
      data.append("campaign_id", page.dataset.campaignId || "");
      var row = variantChoice && variantChoice.value ? document.getElementById(variantChoice.value) : null;
      if (row) {
        variantNames.forEach(function (name) {
          var input = row.querySelector("[name='" + row.id + "-" + name + "']");
          data.append("variant-" + name, input ? input.value : "");
        });
      }
      return data;
    }

    function post(url, data) {
      return fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" }
      }).then(function (response) { return response.json(); });
    }

    // --- Preview and sender, as one types -------------------------------------------------------
    var frame = document.getElementById("campaign-preview");
    var previewError = document.getElementById("campaign-preview-error");
    var previewSubject = document.getElementById("campaign-preview-subject");
    var previewText = document.getElementById("campaign-preview-text");
    var sender = document.getElementById("campaign-sender");
    var previewSequence = 0;

    var refreshPreview = debounce(function () {
      if (!frame) { return; }
      var sequence = ++previewSequence;
      post(page.dataset.previewUrl, pageContent()).then(function (answer) {
        if (sequence !== previewSequence) { return; }  // a newer keystroke's answer is coming
        if (answer.error) {
          previewError.textContent = answer.error;
          previewError.hidden = false;
          return;
        }
        previewError.hidden = true;
        frame.srcdoc = answer.html;
        previewSubject.textContent = answer.subject;
        if (previewText) { previewText.textContent = answer.text; }
        if (sender) { sender.textContent = "From: " + answer.sender; }
        frame.dataset.updated = String(sequence);
      });
    }, 300);

    contentNames.forEach(function (name) {
      var input = field(name);
      if (input) {
        input.addEventListener("input", refreshPreview);
        input.addEventListener("change", refreshPreview);  // selects (the layout) in older browsers
      }
    });

    if (variantChoice) {
      // Each row gets a button that shows it in the preview (and aims the test send at it).
      var decorate = function () {
        variantRows().forEach(function (row) {
          if (row.querySelector(".variant-preview-button")) { return; }
          var button = document.createElement("button");
          button.type = "button";
          button.className = "button variant-preview-button";
          button.textContent = "Preview and test this variant";
          button.addEventListener("click", function () {
            fillVariantChoices();
            variantChoice.value = row.id;
            fillVariantChoices();
            refreshPreview();
            variantChoice.scrollIntoView({ block: "center" });
          });
          var heading = row.querySelector("h3");
          (heading || row).appendChild(button);
        });
        fillVariantChoices();
      };
      decorate();
      document.addEventListener("formset:added", decorate);
      document.addEventListener("formset:removed", decorate);
      variantChoice.addEventListener("focus", fillVariantChoices);
      variantChoice.addEventListener("change", function () { fillVariantChoices(); refreshPreview(); });
      form.addEventListener("input", function (event) {
        var name = event.target.name || "";
        if (variantChoice.value && name.indexOf(variantChoice.value + "-") === 0) {
          if (name.slice(-6) === "-label") { fillVariantChoices(); }
          refreshPreview();
        }
      });
      form.addEventListener("change", function (event) {
        if ((event.target.name || "").slice(-6) === "-label") { fillVariantChoices(); }
      });
    }

    // --- Audience count beside the picker -----------------------------------------------------
    var reachable = document.getElementById("campaign-reachable");
    var warning = document.getElementById("campaign-audience-warning");
    var preset = field("target_segment");
    var segment = field("segment");

    function refreshAudience() {
      if (!reachable || !preset) { return; }
      var query = new URLSearchParams({ target_segment: preset.value, segment: segment ? segment.value : "" });
      fetch(page.dataset.audienceUrl + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          var shown = answer.error || answer.reachable === null || answer.reachable === undefined ? "—" : answer.reachable_text;
          var strong = document.createElement("strong");
          strong.textContent = shown;
          reachable.replaceChildren(
            strong,
            (answer.reachable === 1 ? " user can be" : " users can be") +
              " reached now (verified, not opted out, not suppressed)."
          );
          var note = answer.error || answer.problem || answer.text || "";
          warning.textContent = note;
          warning.className = answer.error || answer.problem ? "campaign-warning" : "campaign-hint";
          warning.hidden = !note;
          reachable.dataset.updated = String(Date.now());
        });
    }

    if (preset) { preset.addEventListener("change", refreshAudience); }
    if (segment) {
      segment.addEventListener("change", refreshAudience);
      // The segment picker is Django's autocomplete (select2), which announces changes through jQuery.
      if (window.django && window.django.jQuery) { window.django.jQuery(segment).on("change", refreshAudience); }
    }

    // --- Unsaved changes hold the actions back --------------------------------------------------
    var unsaved = document.getElementById("campaign-unsaved");
    function markDirty(event) {
      if (!page.dataset.campaignId || !event.target.name || event.target.form !== form) { return; }
      unsaved.hidden = false;
      document.querySelectorAll("[data-needs-saved]").forEach(function (button) {
        button.disabled = true;
        button.title = "Save your changes first";
      });
    }
    form.addEventListener("input", markDirty);
    form.addEventListener("change", markDirty);

    // --- Test sends of what the page holds ------------------------------------------------------
    var testForm = document.getElementById("campaign-test-form");
    var testResult = document.getElementById("campaign-test-result");
    if (testForm && testResult) {
      testForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = pageContent();
        data.append("emails", document.getElementById("campaign-test-emails").value);
        testResult.className = "";
        testResult.textContent = "Sending…";
        post(page.dataset.testUrl, data).then(function (answer) {
          testResult.className = answer.error ? "errornote" : "campaign-ok";
          testResult.textContent = answer.error || answer.message;
        });
      });
    }

    // --- Confirmations, and one submission per click --------------------------------------------
    document.querySelectorAll("form").forEach(function (each) {
      each.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }
        if (each.dataset.confirm && !window.confirm(each.dataset.confirm)) {
          event.preventDefault();
          return;
        }
        if (each.dataset.submitting) {
          event.preventDefault();  // a double click: the first request decides
          return;
        }
        each.dataset.submitting = "yes";
      });
    });
  });
})();
