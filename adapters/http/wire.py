"""Reading requests off the wire: uvicorn's httptools parser, with the limit on a request's head that
httptools itself does not have.

httptools (llhttp, as in Node) parses in C and costs a request a fraction of what the pure-Python
h11 parser does; but it gathers a header, or a URL, however long it grows (a 200 MB header line
was read whole in a trial). Here a request whose head (request line and headers) passes
``MAX_HEAD_BYTES`` before it ends gets 431 and the connection is closed.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from casusregie.adapters.http.app import SECURITY_HEADERS
from casusregie.adapters.http.problems import problem

MAX_HEAD_BYTES = 16_384  # the head of any real request is a few kB (a bearer token included)


class HeadTooLarge(Exception):
    """Raised in the parser's callback when a whole head turns out over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing heads over ``MAX_HEAD_BYTES`` (431, connection closed)."""

    _head_bytes = 0  # read since the current request began, while its head is incomplete
    _in_body = False
    _head_refused = False

    def data_received(self, data: bytes) -> None:
        if not self._in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        # A head still incomplete after more than the limit: the parser holds at most the limit and one read.
        if not self._in_body and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_body = True
        # A head that arrived in one read is measured whole: the request line's URL and every header.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._head_refused = True
            raise HeadTooLarge  # the parser stops; uvicorn answers through send_400_response, below
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._head_refused:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        detail = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes"
        # Written before any application sees the request: the problem body and the API's own headers
        # (which the perimeter middleware adds to every other answer) are put on the wire here.
        answer = problem(431, detail)
        fields = [*answer.raw_headers, *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in [*fields, (b"connection", b"close")])
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + head + b"\r\n" + answer.body)
            self.transport.close()
