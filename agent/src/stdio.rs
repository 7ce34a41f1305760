//! `println!`, `print!`, `eprintln!` and `eprint!` that never panic when stdout or stderr
//! is closed (`rcdiag-agent ... | head`, a log pipe whose reader died): what could not be
//! written is dropped, as the reader has gone. The std macros panic on such a write.
//! Brought in with `#[macro_use]` before the other modules, so that they all use these.

macro_rules! println {
    () => {
        println!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! eprintln {
    () => {
        eprintln!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}
