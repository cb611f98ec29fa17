// The staff member's time zone, as the browser knows it, for the server to show times in and to
// read the times typed into the admin in (config.middleware.StaffTimeZoneMiddleware).
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  if (!zone) { return; }
  var current = document.cookie.split("; ").filter(function (item) { return item.indexOf("staff_tz=") === 0; })[0];
  if (current !== "staff_tz=" + encodeURIComponent(zone)) {
    document.cookie = "staff_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }
  document.querySelectorAll("input[data-time-zone]").forEach(function (input) { input.value = zone; });
  document.querySelectorAll("[data-time-zone-label]").forEach(function (label) { label.textContent = zone; });
})();
