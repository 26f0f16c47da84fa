// Product page: recommend the iOS build on iPads that present themselves as Macs, and report
// clicks on install/download buttons.
(function () {
  "use strict";

  // iPadOS Safari sends a desktop Mac user agent; only its touch screen gives it away.
  function isIPadAsMac() {
    return /Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1;
  }

  function recommendIOS() {
    var cards = document.getElementById("cards");
    var ios = cards && cards.querySelector('.card[data-platform="ios"]');
    if (!ios) {
      return;
    }
    cards.querySelectorAll(".card.recommended").forEach(function (card) {
      card.classList.remove("recommended");
    });
    cards.insertBefore(ios, cards.firstElementChild);
    ios.classList.add("recommended");
  }

  function reportClick(event) {
    var link = event.target.closest("a[data-release]");
    if (!link) {
      return;
    }
    fetch("/events", {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "click", release_id: link.dataset.release }),
    }).catch(function () {});
  }

  if (isIPadAsMac()) {
    recommendIOS();
  }
  document.addEventListener("click", reportClick);
})();
