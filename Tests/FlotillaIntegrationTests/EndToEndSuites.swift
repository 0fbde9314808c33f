import Testing

/// The end-to-end suites (the real engine, `flotilla run` and a real nginx) run one after
/// another: each drives hundreds of requests through the proxy, and on a 2-core machine two at
/// once starve each other into timeouts that are not Flotilla's.
@Suite("End to end", .serialized)
struct EndToEndSuites {}
