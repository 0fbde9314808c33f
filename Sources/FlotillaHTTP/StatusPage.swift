/// The status page: one self-contained HTML document (no external assets: it must work on an
/// offline host), readable on a phone. It polls `/api/v1/status` and `/api/v1/events` every two
/// seconds and redraws in place: services with a dot per replica (green ready, amber starting,
/// red failing, grey dead, a hollow ring per missing one), canary weights, revisions, backoffs and
/// errors, the route table, then a timeline of recent actions.
enum StatusPage {
    static func html(project: String) -> String {
        let title = project.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "-") } ? project : "flotilla"
        return template.replacingOccurrences(of: "{{PROJECT}}", with: title)
    }

    static let template = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{PROJECT}} · flotilla</title>
    <style>
    :root{--ok:#1a7f37;--warn:#bf8700;--bad:#cf222e;--mute:#6e7781;--bg:#fff;--fg:#1f2328;--line:#d0d7de}
    @media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--line:#30363d;--mute:#8d96a0}}
    body{font:15px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;padding:1rem;background:var(--bg);color:var(--fg)}
    h1{font-size:1.2rem;margin:0 0 .2rem} .sub{color:var(--mute);margin-bottom:1rem}
    .badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.8rem;color:#fff}
    .ok{background:var(--ok)} .notok{background:var(--warn)} .bad{background:var(--bad)}
    .svc{border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem;margin:.5rem 0}
    .svc h2{font-size:1rem;margin:0;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
    .dots{margin:.3rem 0} .dot{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;margin-right:.2rem}
    .d-ready{background:var(--ok)} .d-starting{background:var(--warn)} .d-failing{background:var(--bad)} .d-dead{background:var(--mute)}
    .d-missing{background:transparent;border:2px solid var(--bad);box-sizing:border-box} .d-canary{outline:2px solid #8250df;outline-offset:1px}
    .legend{color:var(--mute);font-size:.8rem;margin:.2rem 0 .6rem} .legend .dot{vertical-align:middle}
    h3{font-size:1rem;margin:1rem 0 .3rem}
    .meta{color:var(--mute);font-size:.85rem;word-break:break-all} .err{color:var(--bad)}
    table{border-collapse:collapse;width:100%;font-size:.85rem} td{border-top:1px solid var(--line);padding:.25rem .3rem;vertical-align:top}
    td.t{white-space:nowrap;color:var(--mute)}
    </style></head>
    <body>
    <h1>{{PROJECT}} <span id="state" class="badge notok">loading</span></h1>
    <div class="sub" id="sub">flotilla status page</div>
    <div class="legend"><span class="dot d-ready"></span>ready <span class="dot d-starting"></span>starting
    <span class="dot d-failing"></span>failing <span class="dot d-dead"></span>dead <span class="dot d-missing"></span>missing
    <span class="dot d-ready d-canary"></span>canary</div>
    <div id="services"></div>
    <div id="problems"></div>
    <h3>Routes</h3>
    <table><tbody id="routes"><tr><td>none</td></tr></tbody></table>
    <h3>Recent actions</h3>
    <table><tbody id="events"><tr><td>none yet</td></tr></tbody></table>
    <script>
    "use strict";
    const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
    const dot = (cls, title) => '<span class="dot ' + cls + '" title="' + esc(title) + '"></span>';
    const dots = s => (s.replicas
        ? s.replicas.map(r => dot("d-" + r.health + (r.role === "canary" ? " d-canary" : ""), r.container + ": " + r.health + (r.role === "canary" ? " (canary)" : "")))
        : [].concat(Array(s.ready).fill(dot("d-ready", "ready")), Array(Math.max(0, s.running - s.ready)).fill(dot("d-starting", "starting")))).join("")
      + dot("d-missing", "missing").repeat(Math.max(0, s.desired - s.running));
    function render(st) {
      document.getElementById("state").className = "badge " + (st.converged ? "ok" : "notok");
      document.getElementById("state").textContent = st.converged ? "converged" : "converging";
      document.getElementById("sub").textContent = (st.manifest_revision ? "manifests at " + st.manifest_revision + " · " : "") + "updated " + new Date().toLocaleTimeString();
      document.getElementById("services").innerHTML = st.services.map(s => {
        let phase = esc(s.phase) + (s.canary_weight ? " " + s.canary_weight + "%" : "");
        let extra = "";
        if (s.next_attempt_ms) extra += '<div class="err">crash loop: next attempt ' + new Date(s.next_attempt_ms).toLocaleTimeString() + "</div>";
        if (s.last_error) extra += '<div class="err">' + esc(s.last_error) + "</div>";
        return '<div class="svc" data-service="' + esc(s.name) + '"><h2>' + esc(s.name)
          + ' <span class="badge ' + (s.phase === "crash-loop" || s.phase === "failed" ? "bad" : s.ready === s.desired && s.running === s.desired ? "ok" : "notok") + '">' + phase + "</span></h2>"
          + '<div class="dots">' + dots(s) + "</div>"
          + '<div class="meta"><span class="ready">' + s.ready + "/" + s.desired + " ready</span> · " + s.running + " running · " + s.current + " current"
          + (s.revision ? " · " + esc(s.revision) : "") + (s.routes.length ? " · " + s.routes.map(esc).join(", ") : "") + "</div>" + extra + "</div>";
      }).join("") || "<p>No services.</p>";
      document.getElementById("problems").innerHTML =
        st.orphans.map(o => '<div class="meta">orphan: ' + esc(o.container) + " (" + esc(o.service) + ", " + esc(o.state) + (o.held_back ? ", removal held back" : "") + ")</div>").join("")
        + st.errors.map(e => '<div class="err">' + esc(e) + "</div>").join("");
      const routes = st.services.flatMap(s => s.routes.map(r => '<tr class="route"><td>' + esc(r) + "</td><td>→ " + esc(s.name)
        + '</td><td class="meta">' + s.ready + " ready" + (s.canary_weight ? " · canary " + s.canary_weight + "%" : "") + "</td></tr>"));
      document.getElementById("routes").innerHTML = routes.join("") || "<tr><td>none</td></tr>";
    }
    function renderEvents(list) {
      const rows = list.events.slice(-50).reverse().map(e => '<tr class="event"><td class="t">' + new Date(e.time).toLocaleTimeString()
        + "</td><td>" + esc(e.action) + "</td><td>" + esc(e.service) + (e.container ? "<br><span class=meta>" + esc(e.container) + "</span>" : "")
        + "</td><td class=meta>" + esc(e.reason) + (e.revision ? " @" + esc(e.revision) : "") + "</td></tr>");
      document.getElementById("events").innerHTML = rows.join("") || "<tr><td>none yet</td></tr>";
    }
    // With --listen-token-file: open the page as http://HOST:PORT/#token=TOKEN (a fragment never
    // leaves the browser); the token goes to the APIs as a bearer token.
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    const auth = token ? { headers: { Authorization: "Bearer " + token } } : {};
    async function tick() {
      try {
        const [st, ev] = await Promise.all([fetch("api/v1/status", auth).then(r => r.json()), fetch("api/v1/events", auth).then(r => r.json())]);
        render(st); renderEvents(ev);
      } catch (e) { document.getElementById("state").textContent = "daemon unreachable"; }
      setTimeout(tick, 2000);
    }
    tick();
    </script></body></html>
    """#
}
