// The officers' pages: a list uploaded by drag and drop (or chosen), the refusal report shown
// inline (and as a workbook on request), a batch's progress followed every two seconds until
// it ends, cancel and ask again from the page. Every POST carries the session's CSRF token.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

  function post(url, body, accept) {
    const headers = { "X-CSRF-Token": csrf, Accept: accept || "application/json" };
    return fetch(url, { method: "POST", body: body, headers: headers, credentials: "same-origin" });
  }

  function saveBlob(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // ---------------------------------------------------------------- the team's page: upload
  function uploadPage(form) {
    const drop = document.getElementById("drop");
    const input = document.getElementById("file");
    const chosen = document.getElementById("chosen");
    const outcome = document.getElementById("outcome");
    const message = document.getElementById("outcome-message");
    const table = document.getElementById("problems");
    const report = document.getElementById("download-problems");
    let lastBody = null;

    function showChosen() {
      chosen.textContent = input.files.length ? input.files[0].name : "";
    }
    input.addEventListener("change", showChosen);
    ["dragenter", "dragover"].forEach((kind) => drop.addEventListener(kind, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((kind) => drop.addEventListener(kind, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        showChosen();
      }
    });

    function body() {
      const data = new FormData();
      data.append("case_number", form.case_number.value);
      data.append("reason", form.reason.value);
      if (form.requery_reason.value.trim()) { data.append("requery_reason", form.requery_reason.value); }
      const picked = (name) => Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map((i) => i.value);
      data.append("agencies", picked("agency").join(","));
      data.append("household_items", picked("household_item").join(","));
      data.append("file", input.files[0]);
      return data;
    }

    function refused(error) {
      outcome.hidden = false;
      // the API's message is English; a refused list is said in the page's language
      const intercepted = error.reason && words["intercepted_" + error.reason];
      message.textContent = error.problems && error.problems.length ? words.refused : (intercepted || error.message || words.refused);
      if (error.sheet_rows && error.sheet_rows.length) {
        message.textContent += " " + words.rows_named + error.sheet_rows.join("、") + (error.count > error.sheet_rows.length ? "……" : "");
      }
      const rows = (error.problems || []).map((p) => {
        const tr = document.createElement("tr");
        [p.sheet_row === null || p.sheet_row === undefined ? "" : String(p.sheet_row), words["field_" + p.field] || p.field, p.problem]
          .forEach((text) => { const td = document.createElement("td"); td.textContent = text; tr.append(td); });
        return tr;
      });
      table.querySelector("tbody").replaceChildren(...rows);
      table.hidden = rows.length === 0;
      report.hidden = rows.length === 0;
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!input.files.length) { return; }
      lastBody = body();
      outcome.hidden = true;
      document.getElementById("submit").disabled = true;
      post("/batches/upload", lastBody).then((response) => response.json().then((data) => {
        if (response.status === 202) {
          window.location.assign("/batches/" + data.id);
          return;
        }
        refused(data.error || {});
      })).catch(() => refused({ message: words.network_error }))
        .finally(() => { document.getElementById("submit").disabled = false; });
    });

    report.addEventListener("click", () => {
      if (!lastBody) { return; }
      post("/batches/upload", lastBody, XLSX).then((response) => response.blob())
        .then((blob) => saveBlob(blob, "problems.xlsx"));
    });
  }

  // ---------------------------------------------------------------- one batch: progress
  const FINISHED = ["done", "cancelled", "rejected"];

  function batchPage(batch) {
    const status = document.getElementById("status");
    const rerun = document.getElementById("rerun");
    const cancel = document.getElementById("cancel");
    const note = document.getElementById("action-message");

    function show(data) {
      status.textContent = words[data.status] || data.status;
      status.className = "status " + data.status;
      let failed = 0;
      Object.entries(data.progress).forEach(([agency, p]) => {
        const row = document.querySelector('#progress tr[data-agency="' + agency + '"]');
        if (!row) { return; }
        ["done", "total", "found", "not_found", "failed", "waiting"].forEach((f) => {
          row.querySelector('[data-field="' + f + '"]').textContent = String(p[f]);
        });
        const bar = row.querySelector("progress");
        bar.max = p.total;
        bar.value = p.done;
        failed += p.failed;
      });
      rerun.hidden = failed === 0 || Boolean(data.purged_at);
      cancel.hidden = FINISHED.includes(data.status);
      return data;
    }

    let timer = null;
    function follow(data) {
      clearTimeout(timer);
      if (FINISHED.includes(data.status)) { return; }
      timer = setTimeout(() => {
        fetch("/batches/" + batch.id + "/progress", { headers: { Accept: "application/json" } })
          .then((response) => (response.ok ? response.json().then(show) : data))
          .catch(() => data)
          .then(follow);
      }, 2000);
    }

    function act(path, done) {
      post("/batches/" + batch.id + "/" + path, null).then((response) => response.json().then((data) => {
        if (!response.ok) {
          note.textContent = (data.error && data.error.message) || words.refused;
          return;
        }
        note.textContent = typeof done === "function" ? done(data) : done;
        follow(show(data.batch || data));
      }));
    }
    cancel.addEventListener("click", () => act("cancel", words.cancelled));
    rerun.addEventListener("click", () => act("rerun", (data) =>
      (data.requeued ? words.requeued.replace("{n}", String(data.requeued)) : words.nothing_to_rerun)));
    follow(show(batch));
  }

  window.addEventListener("load", () => {
    const form = document.getElementById("upload");
    if (form) { uploadPage(form); }
    const batch = document.getElementById("batch");
    if (batch) { batchPage(JSON.parse(batch.textContent)); }
  });
})();
