"""A minimal Docker Engine API call over a unix socket, shared by the benchmark scripts
(HTTP/1.1, Connection: close, chunked bodies decoded). Loopback only by construction."""
import json
import socket


def call(sock_path, method, path, body=None):
    """Returns (status, body bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    head, _, payload = out.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        decoded, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size or b"0", 16)
            if n == 0:
                break
            decoded, rest = decoded + rest[:n], rest[n + 2:]
        payload = decoded
    return int(head.split(b" ")[1]), payload
