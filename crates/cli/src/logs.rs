//! The log on stderr, redacted by value like every other sink (issue 16, rule 5): each event
//! is formatted whole into a buffer, then written through the scan's redactor, so a secret
//! learnt during the scan (a token from sign-in) never reaches the terminal or a CI log, at any
//! level (`MIDDLEBRICK_LOG=debug` prints every redirect hop's URL).

use middlebrick_model::Redactor;
use std::io::Write;
use std::sync::Arc;
use tracing_subscriber::fmt::MakeWriter;

/// Hands the subscriber one [`Event`] buffer per log event.
#[derive(Debug, Clone)]
pub struct RedactingStderr(pub Arc<Redactor>);

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = Event;

    fn make_writer(&'a self) -> Event {
        Event {
            redactor: self.0.clone(),
            buf: Vec::new(),
        }
    }
}

/// One log event; written, redacted, when the subscriber is done with it.
pub struct Event {
    redactor: Arc<Redactor>,
    buf: Vec<u8>,
}

impl Write for Event {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let _ = std::io::stderr().write_all(self.redactor.redact(&text).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_redacted_before_they_are_written() {
        let redactor = Arc::new(Redactor::new());
        redactor.add("s3cret-token-value");
        let make = RedactingStderr(redactor.clone());
        let mut event = make.make_writer();
        event
            .write_all(b"following redirect to=http://t/cb?t=s3cret-token-va")
            .unwrap();
        let text = String::from_utf8_lossy(&event.buf).into_owned();
        assert!(!redactor.redact(&text).contains("s3cret"));
    }
}
