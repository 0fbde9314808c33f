import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

extension HTTP1Client {
    /// Whether `error` means this process could not even try: no file descriptor, no socket
    /// buffer, no memory for a socket (EMFILE, ENFILE, ENOBUFS, ENOMEM). Such a failure says
    /// nothing about the other end, so a health probe that meets it must give no verdict: a
    /// daemon out of descriptors once failed the liveness checks of healthy replicas.
    public static func isLocalExhaustion(_ error: any Error) -> Bool {
        let local: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]
        if let error = error as? IOError { return local.contains(error.errnoCode) }
        if let error = error as? NIOConnectionError {
            return !error.connectionErrors.isEmpty && error.connectionErrors.allSatisfy { isLocalExhaustion($0.error) }
        }
        return false
    }
}
