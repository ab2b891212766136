//! zkrisk-groth16: Groth16 proofs (BN254) from a snarkjs .zkey and a circom .wtns, on every core.
//!
//!   zkrisk-groth16 prove ZKEY WTNS [--threads N]   the proof's 256 calldata bytes, hex, on stdout
//!   zkrisk-groth16 serve [--threads N]              one request per stdin line, keys kept warm:
//!       "prove\tZKEY\tWTNS"  →  "ok\tHEX" or "error\tMESSAGE"
//!
//! Exit status: 0 proved, 1 a file could not be read or proved from, 2 bad usage.

mod binfile;
mod curve;
mod fft;
mod field;
mod msm;
mod prove;
mod zkey;

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use zkey::{parse_witness, ProvingKey};

const USAGE: &str =
    "usage: zkrisk-groth16 prove ZKEY WTNS [--threads N] | zkrisk-groth16 serve [--threads N]";

type KeyId = (PathBuf, SystemTime, u64);

#[derive(Default)]
struct Keys {
    loaded: HashMap<PathBuf, (KeyId, Arc<ProvingKey>)>,
}

impl Keys {
    /// The key at `path`, parsed once per (path, mtime, size).
    fn get(&mut self, path: &Path) -> Result<Arc<ProvingKey>, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let id: KeyId = (
            path.to_path_buf(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        if let Some((seen, key)) = self.loaded.get(path) {
            if *seen == id {
                return Ok(Arc::clone(key));
            }
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let key =
            Arc::new(ProvingKey::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?);
        self.loaded
            .insert(path.to_path_buf(), (id, Arc::clone(&key)));
        Ok(key)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn prove_files(
    keys: &mut Keys,
    zkey: &Path,
    wtns: &Path,
    threads: usize,
) -> Result<String, String> {
    let key = keys.get(zkey)?;
    let bytes = std::fs::read(wtns).map_err(|e| format!("{}: {e}", wtns.display()))?;
    let witness = parse_witness(&bytes).map_err(|e| format!("{}: {e}", wtns.display()))?;
    let proof = prove::prove(&key, &witness, threads)?;
    Ok(hex(&proof.to_calldata()))
}

fn serve(threads: usize) -> i32 {
    let mut keys = Keys::default();
    let stdin = io::stdin();
    let mut out = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(_) => return 1,
        };
        let parts: Vec<&str> = line.split('\t').collect();
        let reply = match parts.as_slice() {
            ["prove", zkey, wtns] => {
                match prove_files(&mut keys, Path::new(zkey), Path::new(wtns), threads) {
                    Ok(proof) => format!("ok\t{proof}"),
                    Err(e) => format!("error\t{}", e.replace(['\n', '\t'], " ")),
                }
            }
            _ => format!(
                "error\tunknown request {:?}: send \"prove<TAB>ZKEY<TAB>WTNS\"",
                line
            ),
        };
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return 1;
        }
    }
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--threads" {
            match args
                .get(i + 1)
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n >= 1)
            {
                Some(n) => threads = n,
                None => {
                    eprintln!("--threads takes a whole number >= 1\n{USAGE}");
                    std::process::exit(2);
                }
            }
            i += 2;
        } else {
            positional.push(args[i].as_str());
            i += 1;
        }
    }
    let code = match positional.as_slice() {
        ["prove", zkey, wtns] => match prove_files(
            &mut Keys::default(),
            Path::new(zkey),
            Path::new(wtns),
            threads,
        ) {
            Ok(proof) => {
                println!("{proof}");
                0
            }
            Err(e) => {
                eprintln!("zkrisk-groth16: {e}");
                1
            }
        },
        ["serve"] => serve(threads),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
