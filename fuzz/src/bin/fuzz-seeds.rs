//! `fuzz-seeds DIR`: writes each fuzz target's seed corpus and regression
//! inputs to `DIR/TARGET/`, for `scripts/fuzz` to hand to libFuzzer. The
//! seeds are made from the committed specs, captures and agent transcript
//! at run time, so the repository keeps no copy of them.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use timewait_fuzz::seeds::{self, Seed};
use timewait_fuzz::Target;

fn write(dir: &Path, seeds: &[Seed]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, s) in seeds.iter().enumerate() {
        // File names only need to be unique and say where a seed came from.
        let tail: String = s
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let p = dir.join(format!("{i:05}-{}", &tail[tail.len().saturating_sub(80)..]));
        std::fs::write(&p, &s.bytes).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        bail!("usage: fuzz-seeds DIR (writes DIR/TARGET/ for each target)");
    };
    let out = PathBuf::from(out);
    let root = seeds::workspace_root();
    for t in Target::ALL {
        let dir = out.join(t.name());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let mut all = seeds::corpus(t, &root)?;
        all.extend(seeds::regressions(t, &root)?);
        write(&dir, &all)?;
        println!("{}: {} seeds in {}", t.name(), all.len(), dir.display());
    }
    Ok(())
}
