// Door page: scan (BarcodeDetector, else the vendored jsQR) or type a ticket code, post it to
// /api/v1/checkin with the session's CSRF token, and show the result large and coloured.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var select = document.getElementById("performance");
  var result = document.getElementById("result");
  var counts = document.getElementById("counts");
  var manual = document.getElementById("manual");
  var code = document.getElementById("code");
  var video = document.getElementById("video");
  var busy = false;
  var clearTimer = null;
  var lastCode = "";
  var lastCodeAt = 0;

  var timeZone = document.querySelector('meta[name="time-zone"]').content;
  // Each refusal in plain words: [title, what to do].
  var messages = {
    unknown_ticket: ["Unknown ticket", "No ticket has this code. Check the code, or ask for the booking e-mail."],
    wrong_performance: ["Not for this performance", "This ticket is for another performance."],
    outside_checkin_window: ["Check-in is not open", "Check-in for this performance is not open at this time."],
    not_valid: ["Ticket cancelled", "This reservation was cancelled or never confirmed."],
    unauthenticated: ["Please log in again", "Your session has ended."],
    forbidden: ["Not allowed", "This account may not check tickets in."],
    rate_limited: ["Too many attempts", "Wait a moment, then try again."],
    validation_failed: ["Unknown ticket", "Type the code as printed on the ticket."]
  };

  function show(kind, title, detail) {
    result.className = "result " + kind;
    result.querySelector(".title").textContent = title;
    result.querySelector(".detail").textContent = detail || "";
    clearTimeout(clearTimer);
    clearTimer = setTimeout(function () {
      result.className = "result idle";
      result.querySelector(".title").textContent = "Ready";
      result.querySelector(".detail").textContent = "Scan a ticket or type its code.";
    }, 5000);
  }

  // The theatre's clock (TIMEZONE), whatever zone the device is set to.
  function hhmm(iso) {
    return new Date(iso).toLocaleTimeString("en-GB", { timeZone: timeZone, hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function refreshCounts() {
    if (!select || !select.value) return;
    fetch("/api/v1/checkin/performances/" + encodeURIComponent(select.value), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p) counts.textContent = p.checked_in_people + " of " + p.confirmed_people + " people checked in";
      })
      .catch(function () {});
  }

  function nonce() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function post(body, attemptsLeft) {
    return fetch("/api/v1/checkin", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).catch(function (err) {
      // A network error: retry the same attempt (same nonce) once.
      if (attemptsLeft > 0) return post(body, attemptsLeft - 1);
      throw err;
    });
  }

  function submit(value) {
    value = (value || "").trim();
    if (!value || busy) return;
    busy = true;
    var body = { token: value, nonce: nonce() };
    if (select && select.value) body.performance_id = select.value;
    post(body, 1)
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        var b = res.body;
        if (res.ok) {
          show("ok", "Welcome! " + b.party_size + (b.party_size === 1 ? " person" : " people"), b.performance.title);
        } else if (b.error === "already_checked_in") {
          show("error", "Already checked in at " + hhmm(b.checked_in_at), "This ticket was used before.");
        } else {
          var words = messages[b.error] || ["Not checked in", "Something went wrong. Try again."];
          show("error", words[0], words[1]);
        }
        refreshCounts();
      })
      .catch(function () { show("error", "Network error", "Try again."); })
      .then(function () { busy = false; });
  }

  manual.addEventListener("submit", function (e) {
    e.preventDefault();
    submit(code.value);
    code.value = "";
    code.focus();
  });
  if (select) select.addEventListener("change", refreshCounts);
  refreshCounts();
  setInterval(refreshCounts, 15000);

  function onScanned(text) {
    var now = Date.now();
    if (text === lastCode && now - lastCodeAt < 4000) return;
    lastCode = text;
    lastCodeAt = now;
    submit(text);
  }

  document.getElementById("start-camera").addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      show("error", "No camera available", "Type the code instead.");
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      var canvas = document.createElement("canvas");
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      function tick() {
        if (video.readyState === video.HAVE_ENOUGH_DATA) {
          if (detector) {
            detector.detect(video).then(function (codes) {
              if (codes.length) onScanned(codes[0].rawValue);
            }).catch(function () {});
          } else if (window.jsQR) {
            canvas.width = video.videoWidth;
            canvas.height = video.videoHeight;
            ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
            var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
            var found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
            if (found) onScanned(found.data);
          }
        }
        setTimeout(tick, 250);
      }
      tick();
    }).catch(function () { show("error", "Camera not allowed", "Type the code instead."); });
  });
})();
