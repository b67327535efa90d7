// The records form shows its upload while it runs. htmx sends the form (hx-boost on the form) and
// reports the bytes sent; once the file is sent the bar turns indeterminate while the server imports,
// then the answer replaces the page as a normal submit would (its flash message says what happened).
// Without JavaScript the form submits as usual, without the bar.
(function () {
  const form = document.getElementById("records-upload");
  if (!form) return;
  const box = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const status = document.getElementById("upload-status");
  const button = form.querySelector("button[type=submit]");
  let sending = false;

  function size(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  form.addEventListener("htmx:beforeSend", function () {
    sending = true;
    box.hidden = false;
    bar.max = 100;
    bar.value = 0;
    status.textContent = "Uploading…";
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
  });
  // htmx reports the upload's progress and then the answer's under the same event name: only the
  // events before the upload's end (its loadend) are the upload's.
  form.addEventListener("htmx:xhr:progress", function (event) {
    const detail = event.detail;
    if (!sending || !detail.lengthComputable || !detail.total) return;
    bar.max = detail.total;
    bar.value = detail.loaded;
    status.textContent = `Uploading… ${Math.floor((100 * detail.loaded) / detail.total)}% of ${size(detail.total)}`;
  });
  form.addEventListener("htmx:xhr:loadend", function () {
    if (!sending) return;
    sending = false;
    bar.removeAttribute("value"); // indeterminate: the server is reading the file
    status.textContent = "Uploaded. Importing the records…";
  });
  // A refused file (422) answers the page with the reasons: show it, as a normal submit would.
  form.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  form.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful || event.detail.xhr.status === 422) return;
    sending = false;
    button.disabled = false;
    form.removeAttribute("aria-busy");
    bar.value = 0;
    status.textContent = "The upload failed; nothing was imported. Try again.";
  });
})();
