// Admin panel: forms and buttons call Fenfa's JSON API with this browser's session and CSRF token;
// uploads go through XMLHttpRequest so their progress shows; exports download through fetch.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  // The status line that belongs to a form, or to the section ([data-status-scope]) around a button.
  function statusOf(element) {
    var scope = element.tagName === "FORM" ? element : element.closest("[data-status-scope], form");
    if (!scope) {
      return null;
    }
    var own = Array.prototype.filter.call(scope.querySelectorAll(".form-status"), function (status) {
      return status.parentElement.closest("form, [data-status-scope]") === scope;
    });
    return own[own.length - 1] || null;
  }

  function say(element, message, isError) {
    var status = statusOf(element);
    if (status) {
      status.textContent = message;
      status.classList.toggle("error", Boolean(isError));
    }
  }

  function call(method, url, body) {
    var options = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () {
        return { ok: false, error: { message: response.status + " " + response.statusText } };
      });
    });
  }

  // A field's value as the API wants it: data-type int, bool (checkboxes), lines (a list) or text.
  function valueOf(field) {
    var type = field.dataset.type;
    if (field.type === "checkbox") {
      return field.checked;
    }
    if (type === "int") {
      return field.value === "" ? null : Number(field.value);
    }
    if (type === "lines") {
      return field.value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
    }
    return field.value;
  }

  function formBody(form) {
    var body = {};
    form.querySelectorAll("[name]").forEach(function (field) {
      if (field.disabled || field.name === "csrf" || field.dataset.skip !== undefined) {
        return;
      }
      if (field.dataset.secret !== undefined) {
        var clear = form.querySelector('[data-clears="' + field.name + '"]');
        if (clear && clear.checked) {
          body[field.name] = null;
        } else if (field.value.trim() !== "") {
          body[field.name] = field.value;
        }
        return;
      }
      if (field.dataset.optional !== undefined && field.value === "") {
        return;
      }
      body[field.name] = valueOf(field);
    });
    return body;
  }

  function pick(data, path) {
    return path.split(".").reduce(function (value, key) { return value && value[key]; }, data);
  }

  function afterSuccess(element, data) {
    var next = element.dataset.next;
    if (next) {
      window.location.assign(next.replace(/\{([\w.]+)\}/g, function (_, path) { return pick(data, path); }));
    } else {
      window.location.reload();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset.api) {
      return;
    }
    event.preventDefault();
    say(form, form.dataset.working || "…");
    call(form.dataset.method || "POST", form.dataset.api, formBody(form)).then(function (answer) {
      if (answer.ok) {
        say(form, form.dataset.done || "✓");
        afterSuccess(form, answer.data);
      } else {
        say(form, answer.error.message, true);
      }
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-api]");
    if (!button) {
      return;
    }
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      return;
    }
    button.disabled = true;
    call(button.dataset.method || "POST", button.dataset.api).then(function (answer) {
      button.disabled = false;
      if (answer.ok) {
        afterSuccess(button, answer.data);
      } else {
        say(button, answer.error.message, true);
      }
    });
  });

  // Uploads: multipart through XMLHttpRequest, whose upload progress drives the <progress> bar.
  function upload(form, url, onDone) {
    var progress = form.querySelector("progress");
    var data = new FormData(form);
    var request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        progress.value = Math.round((event.loaded / event.total) * 100);
        progress.textContent = progress.value + "%";
      }
    });
    request.addEventListener("load", function () {
      var answer;
      try {
        answer = JSON.parse(request.responseText);
      } catch (error) {
        answer = { ok: false, error: { message: request.status + " " + request.statusText } };
      }
      if (answer.ok) {
        progress.value = 100;
      }
      onDone(answer);
    });
    request.addEventListener("error", function () {
      onDone({ ok: false, error: { message: form.dataset.networkError || "network error" } });
    });
    progress.hidden = false;
    progress.value = 0;
    request.send(data);
  }

  function showLinks(container, urls) {
    container.replaceChildren();
    Object.keys(urls).forEach(function (name) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = urls[name];
      link.textContent = urls[name];
      var label = document.createElement("span");
      label.className = "muted";
      label.textContent = name + ": ";
      item.append(label, link);
      container.append(item);
    });
    container.hidden = false;
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      say(form, form.dataset.working);
      upload(form, form.dataset.upload, function (answer) {
        if (!answer.ok) {
          say(form, answer.error.message, true);
          return;
        }
        say(form, form.dataset.done);
        showLinks(form.querySelector(".upload-links"), answer.data.urls);
        var release = form.closest("[data-variant]").querySelector(".new-release");
        if (release) {
          release.hidden = false;
          release.querySelector(".version").textContent = answer.data.release.version || answer.data.release.id;
        }
      });
    });
  });

  // Smart upload: parse first (parse-app) to show what the file is, then store it where the admin chose.
  var smart = document.getElementById("smart-upload");
  if (smart) {
    var fileInput = smart.querySelector('input[type="file"]');
    var drop = smart.querySelector(".drop-zone");
    var details = document.getElementById("parsed");
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("dragging"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      fileInput.files = event.dataTransfer.files;
      fileInput.dispatchEvent(new Event("change"));
    });
    fileInput.addEventListener("change", function () {
      if (!fileInput.files.length) {
        return;
      }
      details.hidden = true;
      say(smart, smart.dataset.parsing);
      upload(smart, "/admin/api/parse-app", function (answer) {
        if (!answer.ok) {
          say(smart, answer.error.message, true);
          return;
        }
        say(smart, "");
        var info = answer.data;
        ["display_name", "identifier", "version", "build", "platform", "min_os", "file_name"].forEach(function (key) {
          details.querySelector('[data-field="' + key + '"]').textContent = info[key] || "–";
        });
        var icon = details.querySelector(".parsed-icon");
        icon.hidden = !info.icon;
        if (info.icon) {
          icon.src = info.icon;
        }
        var target = smart.querySelector('select[name="variant_id"]');
        target.querySelectorAll("option[data-platform]").forEach(function (option) {
          option.hidden = option.dataset.platform !== info.platform;
        });
        target.value = info.variant_id || "";
        details.hidden = false;
      });
    });
    smart.addEventListener("submit", function (event) {
      event.preventDefault();
      say(smart, smart.dataset.working);
      upload(smart, "/admin/api/smart-upload", function (answer) {
        if (!answer.ok) {
          say(smart, answer.error.message, true);
          return;
        }
        say(smart, smart.dataset.done);
        showLinks(smart.querySelector(".upload-links"), answer.data.urls);
        var product = smart.querySelector(".product-link");
        product.href = "/admin/products/" + answer.data.app.product_id;
        product.hidden = false;
      });
    });
  }

  // Exports: the session's CSRF header cannot ride on a plain link, so the CSV comes through fetch.
  document.querySelectorAll("form[data-export]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var query = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (value !== "") {
          query.append(key, value);
        }
      });
      var url = form.dataset.export + (query.toString() ? "?" + query : "");
      say(form, form.dataset.working);
      fetch(url, { headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" }).then(function (response) {
        if (!response.ok) {
          return response.json().then(function (answer) { throw new Error(answer.error.message); });
        }
        return response.blob();
      }).then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = form.dataset.fileName;
        document.body.append(link);
        link.click();
        link.remove();
        say(form, form.dataset.done);
      }).catch(function (error) {
        say(form, error.message, true);
      });
    });
  });

  // iOS devices: register one, the selected or every unregistered device with Apple; show each result.
  var devices = document.getElementById("devices");
  if (devices) {
    var results = document.getElementById("apple-results");
    function register(body) {
      say(devices, devices.dataset.working);
      call("POST", "/admin/api/devices/register-apple", body).then(function (answer) {
        if (!answer.ok) {
          say(devices, answer.error.message, true);
          return;
        }
        say(devices, devices.dataset.summary.replace("{ok}", answer.data.success_count)
          .replace("{failed}", answer.data.fail_count));
        results.replaceChildren();
        answer.data.results.forEach(function (result) {
          var item = document.createElement("li");
          item.className = result.ok ? "ok" : "error";
          item.textContent = (result.udid || result.device_id) + ": " + (result.ok ? result.apple_device_id : result.error);
          results.append(item);
        });
        results.hidden = false;
      });
    }
    devices.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-register]");
      if (!button) {
        return;
      }
      var which = button.dataset.register;
      if (which === "all") {
        register({});
      } else if (which === "selected") {
        var ids = Array.prototype.map.call(devices.querySelectorAll('input[name="device"]:checked'), function (box) {
          return box.value;
        });
        register({ device_ids: ids });
      } else {
        register({ device_ids: [which] });
      }
    });
  }

  // Settings: the Apple "test connection" button.
  var test = document.getElementById("apple-test");
  if (test) {
    test.addEventListener("click", function () {
      say(test, test.dataset.working);
      call("GET", "/admin/api/apple/status").then(function (answer) {
        if (!answer.ok) {
          say(test, answer.error.message, true);
        } else {
          say(test, answer.data.message, !answer.data.connected);
        }
      });
    });
  }
})();
