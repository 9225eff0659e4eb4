//! `rnats-mkpasswd`: bcrypt hashes for passwords and tokens in configuration files, like
//! the reference's `mkpasswd` utility.
//!
//! ```text
//! rnats-mkpasswd            # makes up a password and prints it with its hash
//! rnats-mkpasswd -p         # hashes a password read from standard input
//! rnats-mkpasswd -c 12      # a different bcrypt cost (default 11, as the reference)
//! ```

use std::io::BufRead;
use std::process::ExitCode;

use clap::Parser;

/// The reference's default cost.
const DEFAULT_COST: u32 = 11;

#[derive(Parser)]
#[command(name = "rnats-mkpasswd", about = "Prints a bcrypt hash for a password")]
struct Args {
    /// Read the password from standard input instead of making one up.
    #[arg(short = 'p', long = "pass")]
    read: bool,
    /// The bcrypt cost.
    #[arg(short = 'c', long = "cost", default_value_t = DEFAULT_COST)]
    cost: u32,
}

/// A made-up password: 22 characters from 16 random bytes.
fn random_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 22];
    getrandom::fill(&mut raw).map_err(|e| format!("no randomness: {e}"))?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

fn run(args: Args) -> Result<(), String> {
    if !(4..=31).contains(&args.cost) {
        return Err(format!("cost {} is outside 4..=31", args.cost));
    }
    let password = if args.read {
        eprint!("Enter Password: ");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Err("empty password".into());
        }
        line
    } else {
        let password = random_password()?;
        println!("pass: {password}");
        password
    };
    // `$2a$`, as the reference's utility writes it (Go's bcrypt reads both).
    let hash = bcrypt::hash_with_result(&password, args.cost)
        .map_err(|e| e.to_string())?
        .format_for_version(bcrypt::Version::TwoA);
    println!("bcrypt hash: {hash}");
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnats-mkpasswd: {e}");
            ExitCode::FAILURE
        }
    }
}
