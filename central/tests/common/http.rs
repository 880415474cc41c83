//! One HTTP/1.1 request to a console served by the test, as a browser would send it, and
//! what to read from the answer.

use std::fmt::Write as _;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A request's status, head and body (`Connection: close`, read to the end); `headers`
/// are added to the Host and Content-Length the request always has.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// A JSON request from the same site with `cookie`.
pub async fn http(addr: SocketAddr, method: &str, path: &str, cookie: &str, body: &str) -> (u16, String, String) {
    let headers = [("Cookie", cookie), ("Content-Type", "application/json"), ("Sec-Fetch-Site", "same-origin")];
    request(addr, method, path, &headers, body).await
}

/// The first header `name` whose value starts with `starting`.
pub fn header<'a>(head: &'a str, name: &str, starting: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(k, v)| k.eq_ignore_ascii_case(name) && v.starts_with(starting))
        .map(|(_, v)| v)
}

/// The cookie `name` the answer sets, as `name=value`.
pub fn cookie_value(head: &str, name: &str) -> String {
    let set = header(head, "set-cookie", &format!("{name}=")).unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// A chunked body, unchunked (whatever its chunks); any other body as it is.
pub fn unchunk(body: &str) -> String {
    let chunked = body.split_once("\r\n").is_some_and(|(size, _)| usize::from_str_radix(size.trim(), 16).is_ok());
    if !chunked {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return body.to_owned() };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
