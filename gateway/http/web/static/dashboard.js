// The wall page: the chart from the first snapshot, then a fresh snapshot from the server
// every few seconds (server-sent events; the browser reconnects by itself after a restart).
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const agencies = ["household", "realestate", "vehicle", "forestry", "subsidy", "police"];
  const colours = ["#0b5cad", "#1f7a3f", "#b26a00", "#6a3d9a", "#b3261e", "#00838f"];
  let chart = null;

  function text(value) { return value === null || value === undefined ? "–" : String(value); }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  // 24-hour clock times in the court's zone (the server sends its offset), as a Chinese wall
  // shows them (uPlot's default is "6:05am", in the browser's zone)
  let offset = 0;
  function clock(seconds) { return new Date((seconds + offset) * 1000).toISOString().slice(11, 16); }

  function drawChart(throughput) {
    offset = throughput.offset || 0;
    const data = [throughput.minutes].concat(agencies.map((a) => throughput.series[a] || []));
    if (chart) { chart.setData(data); return; }
    const box = document.getElementById("chart");
    chart = new uPlot({
      width: box.clientWidth || 900, height: 260,
      series: [{ label: words.time, value: (u, v) => (v === null ? "–" : clock(v)) }].concat(agencies.map((a, i) => ({
        label: words[a], stroke: colours[i], width: 2, points: { show: false },
      }))),
      axes: [{ values: (u, splits) => splits.map(clock) }, { label: "/min" }],
    }, data, box);
  }

  function agencyRows(list) {
    list.forEach((a) => {
      const row = document.querySelector('#agencies tr[data-agency="' + a.name + '"]');
      if (!row) { return; }
      ["completed", "queued", "leased", "waiting", "late", "overdue"].forEach((f) => {
        row.querySelector('[data-field="' + f + '"]').textContent = text(a[f]);
      });
      row.querySelector('[data-field="error_rate"]').textContent =
        a.error_rate === null ? "–" : (a.error_rate * 100).toFixed(1) + "%";
      row.querySelector('[data-field="median_latency_ms"]').textContent =
        a.median_latency_ms === null ? "–" : Math.round(a.median_latency_ms) + " ms";
      const breaker = row.querySelector(".breaker");
      breaker.className = "breaker " + a.breaker;
      breaker.textContent = words[a.breaker];
    });
  }

  function decisionForm(id, decision) {
    return el("form", { method: "post", action: "/dashboard/batches/" + id + "/" + decision, class: "inline" }, [
      el("input", { type: "hidden", name: "csrf_token", value: csrf }),
      el("button", { class: decision }, [words[decision]]),
    ]);
  }

  function batches(list) {
    const held = document.getElementById("held");
    const body = document.querySelector("#batches tbody");
    const waiting = list.filter((b) => b.status === "pending_approval");
    const running = list.filter((b) => b.status !== "pending_approval");
    held.replaceChildren(...(waiting.length ? waiting.map((b) => el("li", { "data-batch": b.id }, [
      el("span", { class: "case" }, [b.case_number]), " ",
      el("span", {}, [b.team + " · " + b.officer + " · " + b.subjects + " " + words.subjects]), " ",
      decisionForm(b.id, "approve"), " ", decisionForm(b.id, "reject"),
    ])) : [el("li", { class: "none" }, [words.none])]));
    body.replaceChildren(...(running.length ? running.map((b) => el("tr", { "data-batch": b.id }, [
      el("td", {}, [b.case_number]), el("td", {}, [b.team]), el("td", {}, [String(b.subjects)]),
      el("td", {}, [words[b.status] || b.status]),
      el("td", {}, [el("progress", { max: String(b.total), value: String(b.done) }), " ",
        el("span", { class: "done" }, [b.done + "/" + b.total])]),
    ])) : [el("tr", { class: "none" }, [el("td", { colspan: "5" }, [words.none])])]));
  }

  function controlForm(c, decision) {
    const fields = [el("input", { type: "hidden", name: "csrf_token", value: csrf })];
    if (decision === "approve" && c.over_limit) {
      fields.push(el("input", { name: "override_reason", required: "", placeholder: words.override_reason }));
    }
    fields.push(el("button", { class: decision }, [words[decision]]));
    return el("form", { method: "post", action: "/dashboard/controls/" + c.id + "/" + decision, class: "inline" }, fields);
  }

  function none() { return [el("li", { class: "none" }, [words.none])]; }

  // Forms being filled in are left alone: a refresh would wipe an override reason half typed.
  function controls(data) {
    const pending = document.getElementById("controls-pending");
    if (!pending.contains(document.activeElement)) {
      pending.replaceChildren(...(data.pending.length ? data.pending.map((c) => el("li", { "data-control": String(c.id) }, [
        el("span", { class: "case" }, [c.case_number]), " ",
        el("span", {}, [c.team + " · " + c.officer + " · " + words[c.agency] + " " + words["action_" + c.action] +
          (c.amount ? " " + c.amount + " " + words.yuan : "")]), " ",
        c.over_limit ? el("b", { class: "warn" }, [words.over_limit]) : "", " ",
        controlForm(c, "approve"), " ", controlForm(c, "reject"),
      ])) : none()));
    }
    document.getElementById("controls-expiring").replaceChildren(...(data.expiring.length ? data.expiring.map((c) => el("li", { "data-control": String(c.id) }, [
      el("span", { class: "case" }, [c.case_number]),
      " " + c.team + " · " + words[c.agency] + " " + words["action_" + c.action] + " · " + words.expires_on + " " +
        c.expires_on + "（" + c.days_left + " " + words.days + "）",
    ])) : none()));
    document.getElementById("in-effect").textContent = words.in_effect_now + " " +
      ["seal", "seize", "freeze"].map((a) => words["action_" + a] + " " + data.in_effect[a]).join(" ");
  }

  function alerts(list) {
    const box = document.getElementById("alerts");
    box.replaceChildren(...(list.length ? list.map((a) => el("li", {}, [
      el("span", { class: "time" }, [a.at.slice(5, 16).replace("T", " ")]),
      " " + (words[a.kind] || a.kind) + " · " + a.team + " · " + a.officer,
    ])) : [el("li", { class: "none" }, [words.none])]));
  }

  function show(data) {
    drawChart(data.throughput);
    agencyRows(data.agencies);
    batches(data.batches);
    controls(data.controls);
    alerts(data.alerts);
    document.getElementById("updated").textContent = data.at.slice(11, 19);
  }

  // EventSource reconnects by itself after a dropped connection, but gives up for good on an
  // error answer (401 once the session has ended, 503 while the database is away, a proxy's
  // 502 during a restart). Then: ask the page itself whether we are still signed in; go to
  // sign in if not, else listen again, waiting longer each time (2 s up to 30 s).
  function listen(delay) {
    const connection = document.getElementById("connection");
    const source = new EventSource("/dashboard/events");
    source.addEventListener("snapshot", (event) => {
      delay = 2000;
      connection.textContent = words.live;
      connection.classList.remove("lost");
      show(JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      connection.textContent = words.reconnecting;
      connection.classList.add("lost");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => stillSignedIn(delay), delay);
      }
    });
  }

  function stillSignedIn(delay) {
    fetch("/dashboard", { redirect: "manual", cache: "no-store" }).then((response) => {
      if (response.type === "opaqueredirect") {
        window.location.assign("/login?next=%2Fdashboard");
      } else {
        listen(Math.min(delay * 2, 30000));
      }
    }, () => listen(Math.min(delay * 2, 30000)));
  }

  window.addEventListener("load", () => {
    show(JSON.parse(document.getElementById("initial").textContent));
    listen(2000);
  });
})();
