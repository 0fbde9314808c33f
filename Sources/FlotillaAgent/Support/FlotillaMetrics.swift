import Metrics

/// Every metric Flotilla reports, named in one place (swift-metrics; the daemon's `/metrics`
/// exports them through swift-prometheus). Labels are bounded: services, roles, kinds and
/// operation templates, never container ids or free text.
public enum FlotillaMetrics {
    /// One controller step: `result` changed / idle / failed / engine_unavailable, `trigger` its kind.
    static func reconcile(result: String, trigger: String, duration: Duration) {
        Counter(label: "flotilla_reconciles_total", dimensions: [("result", result), ("trigger", trigger)]).increment()
        Timer(label: "flotilla_reconcile_duration_seconds").recordNanoseconds(duration.nanoseconds)
        if result == "changed" || result == "idle" {
            Gauge(label: "flotilla_last_successful_reconcile_timestamp_seconds").record(Double(WallClock.nowMS()) / 1000)
        }
    }

    static func replicas(service: String, desired: Int, running: Int, ready: Int) {
        Gauge(label: "flotilla_replicas_desired", dimensions: [("service", service)]).record(desired)
        Gauge(label: "flotilla_replicas_running", dimensions: [("service", service)]).record(running)
        Gauge(label: "flotilla_replicas_ready", dimensions: [("service", service)]).record(ready)
    }

    static func probeFailure(service: String, role: String) {
        Counter(label: "flotilla_probe_failures_total", dimensions: [("service", service), ("role", role)]).increment()
    }

    static func crashLoopBackoff(service: String) {
        Counter(label: "flotilla_crash_loop_backoffs_total", dimensions: [("service", service)]).increment()
    }

    static func descriptors(open: Int, limit: Int) {
        Gauge(label: "flotilla_open_file_descriptors").record(open)
        Gauge(label: "flotilla_file_descriptor_limit").record(limit)
    }

    static func manifestFilesFailing(_ count: Int) {
        Gauge(label: "flotilla_manifest_files_failing").record(count)
    }

    /// `event`: write, check_failure or reload.
    static func routeFile(_ event: String) {
        Counter(label: "flotilla_route_file_events_total", dimensions: [("event", event)]).increment()
    }

    public static func engineRequest(operation: String, ok: Bool) {
        Counter(label: "flotilla_engine_requests_total", dimensions: [("operation", operation), ("result", ok ? "ok" : "error")]).increment()
    }

    /// `flotilla_manifest_revision_info{revision="<commit>[-dirty]"} 1`: only the revision in
    /// force is exported (the previous one's series is removed), so the label stays bounded.
    static func manifestRevision(_ revision: String, previous: String?) {
        if let previous { Gauge(label: "flotilla_manifest_revision_info", dimensions: [("revision", previous)]).destroy() }
        Gauge(label: "flotilla_manifest_revision_info", dimensions: [("revision", revision)]).record(1)
    }

    public static func buildInfo(version: String) {
        Gauge(label: "flotilla_build_info", dimensions: [("version", version)]).record(1)
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
