//! A small blocking QMP client, for tests, benchmarks, examples and tools.
//!
//! # Examples
//!
//! ```
//! use monitor_core::{client::Client, Monitor};
//!
//! let path = std::env::temp_dir().join(format!("client-doc-{}.sock", std::process::id()));
//! let monitor = Monitor::builder().version(1, 0, 0, "doc").listen_unix(&path).spawn().unwrap();
//! let mut client = Client::connect_unix(&path).unwrap();
//! assert_eq!(client.greeting()["QMP"]["capabilities"][0], "oob");
//! client.negotiate().unwrap();
//! let version = client.execute("query-version", serde_json::json!({})).unwrap();
//! assert_eq!(version["package"], "doc");
//! let err = client.execute("no-such", serde_json::json!({})).unwrap_err();
//! assert_eq!(err.to_string(), "CommandNotFound: The command no-such has not been found");
//! monitor.shutdown();
//! ```

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use thiserror::Error;

/// Errors of the client.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// Nothing arrived within the timeout.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server sent something that is not a QMP message.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Descriptors can only be passed on unix sockets.
    #[error("file descriptors can only be passed on a unix socket")]
    NotUnix,
    /// The command failed.
    #[error("{class}: {desc}")]
    Command {
        /// The error class.
        class: String,
        /// The description.
        desc: String,
    },
}

#[derive(Debug)]
enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Socket {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_read_timeout(t),
            Socket::Tcp(s) => s.set_read_timeout(t),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => s.read(buf),
            Socket::Tcp(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.write_all(buf),
            Socket::Tcp(s) => s.write_all(buf),
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Socket::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }
}

/// A blocking QMP client.
#[derive(Debug)]
pub struct Client {
    socket: Socket,
    buf: Vec<u8>,
    greeting: Json,
    events: VecDeque<Json>,
    timeout: Duration,
    next_id: u64,
}

impl Client {
    /// Connects to a unix socket and reads the greeting.
    ///
    /// # Errors
    ///
    /// Connection failure, or no valid greeting within the timeout (10 s).
    pub fn connect_unix(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        Self::start(Socket::Unix(UnixStream::connect(path)?))
    }

    /// Connects over TCP and reads the greeting.
    ///
    /// # Errors
    ///
    /// As [`connect_unix`](Self::connect_unix).
    pub fn connect_tcp(addr: SocketAddr) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Self::start(Socket::Tcp(stream))
    }

    fn start(socket: Socket) -> Result<Client, ClientError> {
        let mut client = Client {
            socket,
            buf: Vec::new(),
            greeting: Json::Null,
            events: VecDeque::new(),
            timeout: Duration::from_secs(10),
            next_id: 0,
        };
        let greeting = client.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(ClientError::Protocol(format!("bad greeting: {greeting}")));
        }
        client.greeting = greeting;
        Ok(client)
    }

    /// How long a read, or a wait for a response or an event, may take in
    /// all (default 10 s), however many other messages arrive meanwhile.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The greeting the server sent.
    pub fn greeting(&self) -> &Json {
        &self.greeting
    }

    /// Runs `qmp_capabilities`, enabling `oob` when offered.
    ///
    /// # Errors
    ///
    /// I/O errors or the server's error.
    pub fn negotiate(&mut self) -> Result<(), ClientError> {
        let offered = self.greeting["QMP"]["capabilities"]
            .as_array()
            .is_some_and(|caps| caps.iter().any(|c| c == "oob"));
        let args = if offered {
            json!({"enable": ["oob"]})
        } else {
            json!({})
        };
        self.execute("qmp_capabilities", args).map(|_| ())
    }

    /// Runs a command and returns its `return` value; events that arrive
    /// meanwhile are kept for [`next_event`](Self::next_event).
    ///
    /// # Errors
    ///
    /// [`ClientError::Command`] when the server answers with an error.
    pub fn execute(&mut self, command: &str, arguments: Json) -> Result<Json, ClientError> {
        self.next_id += 1;
        let id = format!("client-{}", self.next_id);
        let request = json!({"execute": command, "arguments": arguments, "id": id});
        self.send_raw(request.to_string().as_bytes())?;
        let response = self.wait_response(&json!(id))?;
        into_result(response)
    }

    /// Runs a command with file descriptors sent along (SCM_RIGHTS), as
    /// `getfd` and `add-fd` want them.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotUnix`] on TCP; otherwise as [`execute`](Self::execute).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use monitor_core::{client::Client, Monitor};
    /// use serde_json::json;
    ///
    /// let path = std::env::temp_dir().join(format!("getfd-doc-{}.sock", std::process::id()));
    /// let monitor = Monitor::builder().listen_unix(&path).spawn()?;
    /// let mut client = Client::connect_unix(&path)?;
    /// client.negotiate()?;
    /// let file = std::fs::File::open("/dev/null")?;
    /// client.execute_with_fds("getfd", json!({"fdname": "null"}), &[file.as_fd()])?;
    /// client.execute("closefd", json!({"fdname": "null"}))?;
    /// monitor.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute_with_fds(
        &mut self,
        command: &str,
        arguments: Json,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<Json, ClientError> {
        self.next_id += 1;
        let id = format!("client-{}", self.next_id);
        let request = json!({"execute": command, "arguments": arguments, "id": id});
        self.send_with_fds(request.to_string().as_bytes(), fds)?;
        let response = self.wait_response(&json!(id))?;
        into_result(response)
    }

    /// Sends bytes with file descriptors attached to their first part.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotUnix`] on TCP, or I/O errors.
    pub fn send_with_fds(
        &mut self,
        bytes: &[u8],
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<(), ClientError> {
        let Socket::Unix(socket) = &mut self.socket else {
            return Err(ClientError::NotUnix);
        };
        let sent = loop {
            match crate::server::peer::send_with_fds(&*socket, bytes, fds) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        socket.write_all(&bytes[sent..])?;
        Ok(())
    }

    /// Reads messages until the response with this `id`, keeping events.
    ///
    /// # Errors
    ///
    /// Timeout, closed connection or garbage.
    pub fn wait_response(&mut self, id: &Json) -> Result<Json, ClientError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let msg = self.read_message_by(deadline)?;
            if msg.get("event").is_some() {
                self.events.push_back(msg);
            } else if msg.get("id") == Some(id) {
                return Ok(msg);
            }
        }
    }

    /// Sends bytes as they are.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.socket.write_all(bytes)?;
        Ok(())
    }

    /// Closes the sending side (the server sees end of input).
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn shutdown_write(&mut self) -> Result<(), ClientError> {
        Ok(self.socket.shutdown_write()?)
    }

    /// Reads the next line as raw bytes (without `\r\n`).
    ///
    /// # Errors
    ///
    /// Timeout or closed connection.
    pub fn read_line(&mut self) -> Result<Vec<u8>, ClientError> {
        self.read_line_by(Instant::now() + self.timeout)
    }

    /// [`read_line`](Self::read_line) with a deadline.
    fn read_line_by(&mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout);
            }
            self.socket.set_read_timeout(Some(deadline - now))?;
            let mut chunk = [0u8; 16 << 10];
            match self.socket.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ClientError::Timeout)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads the next message, whatever it is.
    ///
    /// # Errors
    ///
    /// Timeout, closed connection, or a line that is not a JSON object.
    pub fn read_message(&mut self) -> Result<Json, ClientError> {
        self.read_message_by(Instant::now() + self.timeout)
    }

    /// [`read_message`](Self::read_message) with a deadline.
    fn read_message_by(&mut self, deadline: Instant) -> Result<Json, ClientError> {
        let line = self.read_line_by(deadline)?;
        match serde_json::from_slice::<Json>(&line) {
            Ok(v) if v.is_object() => Ok(v),
            _ => Err(ClientError::Protocol(format!(
                "not a JSON object: {}",
                String::from_utf8_lossy(&line)
            ))),
        }
    }

    /// The next event (kept from earlier reads, or read now).
    ///
    /// # Errors
    ///
    /// Timeout or closed connection.
    pub fn next_event(&mut self) -> Result<Json, ClientError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let msg = self.read_message_by(deadline)?;
            if msg.get("event").is_some() {
                return Ok(msg);
            }
        }
    }

    /// Waits for an event with this name, keeping others in order.
    ///
    /// # Errors
    ///
    /// Timeout or closed connection.
    pub fn wait_event(&mut self, name: &str) -> Result<Json, ClientError> {
        if let Some(pos) = self.events.iter().position(|e| e["event"] == name) {
            if let Some(e) = self.events.remove(pos) {
                return Ok(e);
            }
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let msg = self.read_message_by(deadline)?;
            if msg["event"] == name {
                return Ok(msg);
            }
            if msg.get("event").is_some() {
                self.events.push_back(msg);
            }
        }
    }
}

fn into_result(response: Json) -> Result<Json, ClientError> {
    if let Some(value) = response.get("return") {
        return Ok(value.clone());
    }
    match response.get("error") {
        Some(error) => Err(ClientError::Command {
            class: error["class"].as_str().unwrap_or_default().to_owned(),
            desc: error["desc"].as_str().unwrap_or_default().to_owned(),
        }),
        None => Err(ClientError::Protocol(format!("not a response: {response}"))),
    }
}
