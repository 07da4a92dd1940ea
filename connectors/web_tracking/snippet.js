/*! Parcours Hub — program page view, sent only with the visitor's consent. No cookie.
 *
 * <script src="/js/parcours-view.js" defer
 *         data-endpoint="https://hub.example-of.fr/webhooks/site-views"
 *         data-program="developpeur-web-react-api"></script>
 *
 * Consent: the view is sent when `window.parcoursConsent === true` (set it before this script
 * runs), or later when your consent banner calls `window.parcoursTrack.consent()` (or
 * dispatches the `parcours:consent` event on `document`). `window.parcoursTrack.revoke()`
 * forgets the visitor id. Without consent nothing is stored in the browser and nothing is sent.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  var program = script && script.getAttribute("data-program");
  var KEY = "parcours_visitor";
  var sent = false;

  function visitorId() {
    // Written only once consent is given; sessionStorage dies with the tab (no cookie).
    try {
      var id = window.sessionStorage.getItem(KEY);
      if (!id) {
        var bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
        window.sessionStorage.setItem(KEY, id);
      }
      return id;
    } catch (e) {
      return undefined; // storage disabled: the hub deduplicates by other means
    }
  }

  function send() {
    if (sent || window.parcoursConsent !== true || !endpoint || !program) return;
    sent = true;
    var body = JSON.stringify({
      program: program,
      url: location.origin + location.pathname, // no query string, no fragment
      consent: true,
      visitor: visitorId()
    });
    // A text/plain beacon is a "simple" cross-origin request: no CORS preflight is needed.
    if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, body))) {
      fetch(endpoint, { method: "POST", body: body, mode: "no-cors", keepalive: true,
                        headers: { "Content-Type": "text/plain" } }).catch(function () {});
    }
  }

  window.parcoursTrack = {
    consent: function () { window.parcoursConsent = true; send(); },
    revoke: function () {
      window.parcoursConsent = false;
      try { window.sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    }
  };
  document.addEventListener("parcours:consent", window.parcoursTrack.consent);
  send();
})();
