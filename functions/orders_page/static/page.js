// The orders page in the browser: keeps the Cognito ID token of this tab (sessionStorage) and sends
// it with every htmx request (API Gateway's JWT authorizer reads the Authorization header only).
(function () {
  "use strict";
  var KEY = "amazon-orders-id-token";

  function claims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch (e) {
      return null;
    }
  }
  function token() {
    var t = sessionStorage.getItem(KEY);
    var c = t && claims(t);
    return c && c.exp * 1000 > Date.now() ? t : null;
  }
  function signIn() {
    location.assign("/page/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
  }

  var path = location.pathname;
  if (path === "/page/callback") {
    var answer = new URLSearchParams(location.hash.slice(1));
    if (answer.get("id_token")) sessionStorage.setItem(KEY, answer.get("id_token"));
    var next = answer.get("state") || "/page/orders";
    location.replace(next.indexOf("/page/") === 0 && next.indexOf("//") < 0 ? next : "/page/orders");
    return;
  }
  if (path === "/page/signed-out") return;
  if (!token()) {
    signIn();
    return;
  }

  document.addEventListener("htmx:configRequest", function (e) {
    var t = token();
    if (!t) {
      e.preventDefault();
      signIn();
      return;
    }
    e.detail.headers["Authorization"] = "Bearer " + t;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 401) {
      sessionStorage.removeItem(KEY);
      e.detail.shouldSwap = false;
      signIn();
    } else if (status >= 400 && status < 500) {
      e.detail.shouldSwap = true; // the page explains a refusal in place
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target.id !== "main") return;
    var heading = e.detail.target.querySelector("h1");
    if (heading && e.detail.requestConfig && e.detail.requestConfig.verb !== "get") return;
    if (heading && document.activeElement && document.activeElement.closest("form.filters") === null) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var c = claims(token()) || {};
    var who = document.getElementById("signed-in-user");
    if (who) who.textContent = "Signed in as " + (c["cognito:username"] || c.username || "");
    var out = document.getElementById("sign-out");
    if (out)
      out.addEventListener("click", function () {
        sessionStorage.removeItem(KEY);
        location.assign("/page/signed-out");
      });
    var main = document.getElementById("main");
    if (main && main.dataset.content) htmx.ajax("GET", main.dataset.content, { target: "#main", swap: "innerHTML" });
  });
})();
