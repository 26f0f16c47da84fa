// Product page: recommend the iOS build on iPads that present themselves as Macs, and report
// clicks on install/download buttons.
(function () {
  "use strict";

  // iPadOS Safari sends a desktop Mac user agent; only its touch screen gives it away.
  function isIPadAsMac() {
    return /Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1;
  }

  // The server built the page for a Mac: move the iOS card up from "Other platforms" and offer the
  // build it found installable on an iPad, if any.
  function recommendIOS() {
    var cards = document.getElementById("cards");
    var ios = cards && cards.querySelector('.card[data-platform="ios"]');
    if (!ios) {
      return;
    }
    var offered = ios.querySelectorAll("[data-ipad-install]");
    cards.insertBefore(ios, cards.firstElementChild);
    ios.classList.remove("other");
    if (offered.length) {
      offered.forEach(function (element) { element.hidden = false; });
      cards.querySelectorAll(".card.recommended").forEach(function (card) {
        card.classList.remove("recommended");
      });
      ios.classList.add("recommended");
    }
    demoteMacCards(cards);
  }

  // The Mac cards the server put first are not for this iPad: fold them under "Other platforms".
  function demoteMacCards(cards) {
    var others = cards.querySelector(".other-platforms");
    cards.querySelectorAll(':scope > .card[data-platform="macos"]').forEach(function (mac) {
      mac.classList.add("other");
      mac.classList.remove("recommended");
      mac.querySelectorAll(".button.primary").forEach(function (button) {
        button.classList.replace("primary", "tertiary");
      });
      if (others) {
        others.append(mac);
      }
    });
    if (!others) {
      return;
    }
    var count = others.querySelectorAll(".card").length;
    var summary = others.querySelector("summary");
    if (!count) {
      others.remove();
    } else {
      summary.textContent = summary.textContent.replace(/\(\d+\)/, "(" + count + ")");
      others.open = false;
    }
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
