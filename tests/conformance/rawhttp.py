"""A deliberately dumb HTTP/1.1 client: sends exactly the bytes it is given over a real socket
and parses the answer, so header octets reach both servers unchanged (no client library
normalises, re-encodes or refuses them)."""
import socket
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 60


@dataclass
class RawResponse:
    status: int
    headers: list = field(default_factory=list)  # [(lower-case name, value bytes)]
    body: bytes = b""

    def header(self, name):
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


def request_bytes(method, target, headers, host):
    """One request with `Connection: close`; `headers` are (name bytes, value bytes) pairs."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + host]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def send(port, raw, head_request=False):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered before the whole body was sent (a refusal from the headers)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return parse(b"".join(chunks), head_request)


def parse(raw, head_request):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP response: {raw[:80]!r}")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower().decode("latin-1"), value.strip()))
    response = RawResponse(int(status_line[1]), headers)
    if head_request:
        return response
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        response.body = dechunk(rest)
    else:
        length = response.header("content-length")
        response.body = rest[: int(length)] if length is not None else rest
    return response


def dechunk(data):
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2 :]
    return body
