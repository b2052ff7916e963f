//! The guest's boot image for `linux-6.1-vm`: Debian's 6.1 kernel and the
//! few modules the guest needs, busybox, and the guest agent, packed into
//! an initramfs. Nothing is installed on the host: the packages are
//! fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
//! the cache (`~/.cache/timewait/vm/`, or `TIMEWAIT_VM_CACHE`), and which
//! kernel is read from the archive (the `linux-image-amd64` metapackage's
//! dependency), never typed in. The archive itself is written by busybox's
//! own `cpio -o -H newc`, from the package just fetched, so the host needs
//! no cpio.
//!
//! Each step's result is renamed into place whole, so two runs at once, or
//! a run killed halfway, never leave a half-made kernel tree or image where
//! a run would take it.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// Overrides where the fetched packages and built images are kept.
pub const CACHE_ENV: &str = "TIMEWAIT_VM_CACHE";
/// Overrides where the guest agent's binary is taken from.
pub const AGENT_ENV: &str = "TIMEWAIT_GUEST_AGENT";
/// The guest agent's binary, built beside `timewait` by `cargo build`.
pub const AGENT_BIN: &str = "timewait-guest-agent";
/// The metapackage whose dependency names the current 6.1 kernel.
const KERNEL_META: &str = "linux-image-amd64";
/// The only kernel series this stack stands for.
const SERIES: &str = "linux-image-6.1.";
const BUSYBOX: &str = "busybox-static";
/// The modules the guest needs; their dependencies are read from the
/// modules themselves (`depends=` in `.modinfo`).
const MODULES: [&str; 4] = ["virtio_pci", "virtio_net", "virtio_console", "tcp_diag"];
/// The line the init script writes first: the KVM probe waits for it.
pub const INIT_MARK: &str = "timewait-init: up";

const STACK: &str = "linux-6.1-vm";

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("{STACK}: `{program}` cannot be run ({source}); install it with `apt-get install -y {package}`")]
    Tool {
        program: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("{STACK}: {what}; {fix}")]
    Package { what: String, fix: String },
    #[error("{STACK}: `{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{STACK}: {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{STACK}: no folder for the guest's image: set {CACHE_ENV}, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("{STACK}: the guest agent `{AGENT_BIN}` is not built (looked in {looked}); build it with `cargo build --release -p timewait-conformance --bin {AGENT_BIN}` or set {AGENT_ENV}")]
    NoAgent { looked: String },
    #[error(
        "{STACK}: module {module} (needed by the guest) is not in the kernel package {package}"
    )]
    NoModule { module: String, package: String },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ImageError + 'a {
    move |source| ImageError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A bootable guest: the kernel, the initramfs, and what they were made of.
#[derive(Clone, Debug)]
pub struct Image {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// The kernel package and its Debian version, for reports.
    pub package: String,
    pub package_version: String,
}

/// The cache folder.
pub fn root() -> Result<PathBuf, ImageError> {
    if let Some(dir) = std::env::var_os(CACHE_ENV) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("timewait").join("vm"))
        .ok_or(ImageError::NoCacheDir)
}

/// Runs a command, its stdout as text on success.
fn run(
    cmd: &mut Command,
    program: &'static str,
    package: &'static str,
) -> Result<String, ImageError> {
    let out = crate::spawn::output(cmd).map_err(|source| ImageError::Tool {
        program,
        package,
        source,
    })?;
    if !out.status.success() {
        return Err(ImageError::Command {
            command: format!("{cmd:?}"),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The candidate version of `package` in the archive (`apt-cache show`).
fn candidate(package: &str) -> Result<(String, String), ImageError> {
    let text = run(
        Command::new("apt-cache").args(["show", "--no-all-versions", package]),
        "apt-cache",
        "apt",
    )
    .map_err(|e| ImageError::Package {
        what: format!("the archive has no {package} ({e})"),
        fix: "run `apt-get update` (Debian 12 bookworm's main archive serves it)".into(),
    })?;
    let fields = control_fields(&text);
    let version = fields.get("Version").cloned().ok_or(ImageError::Package {
        what: format!("apt-cache shows no version of {package}"),
        fix: "run `apt-get update`".into(),
    })?;
    Ok((version, fields.get("Depends").cloned().unwrap_or_default()))
}

/// The fields of one Debian control stanza (continuation lines dropped).
fn control_fields(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if !k.starts_with(' ') {
                out.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// The kernel package the archive's metapackage points at, in its unsigned
/// form (the same kernel and modules, with no signature to carry).
fn kernel_package() -> Result<(String, String), ImageError> {
    let (_, depends) = candidate(KERNEL_META)?;
    let name = depends
        .split([',', '|'])
        .map(|d| d.split_whitespace().next().unwrap_or_default())
        .find(|d| d.starts_with(SERIES))
        .ok_or_else(|| ImageError::Package {
            what: format!(
                "{KERNEL_META} does not depend on a 6.1 kernel (it depends on {depends:?})"
            ),
            fix: "this stack needs Debian 12 (bookworm)'s archive in the apt sources".into(),
        })?;
    let unsigned = format!("{name}-unsigned");
    let (version, _) = candidate(&unsigned)?;
    Ok((unsigned, version))
}

/// `package` at `version`, unpacked under the cache (fetched if missing).
fn unpacked(root: &Path, package: &str, version: &str) -> Result<PathBuf, ImageError> {
    let dir = root.join("packages").join(format!("{package}_{version}"));
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(root).map_err(io("creating", root))?;
    let tmp = tempfile::Builder::new()
        .prefix(".fetching-")
        .tempdir_in(root)
        .map_err(io("creating a folder in", root))?;
    run(
        Command::new("apt-get")
            .args(["download", &format!("{package}={version}")])
            .current_dir(tmp.path()),
        "apt-get",
        "apt",
    )
    .map_err(|e| ImageError::Package {
        what: format!("cannot fetch {package} {version} ({e})"),
        fix: "check the network and run `apt-get update`, as root".into(),
    })?;
    let deb = std::fs::read_dir(tmp.path())
        .map_err(io("reading", tmp.path()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| ImageError::Package {
            what: format!("apt-get download left no .deb of {package}"),
            fix: "run `apt-get update`".into(),
        })?;
    let tree = tmp.path().join("tree");
    run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree),
        "dpkg-deb",
        "dpkg",
    )?;
    keep_needed(package, &tree)?;
    let parent = dir.parent().unwrap_or(root);
    std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    match std::fs::rename(&tree, &dir) {
        Ok(()) => Ok(dir),
        // Another run unpacked it meanwhile: theirs is as good.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(io("renaming into", &dir)(e)),
    }
}

/// Keeps what the image takes from a kernel package (the kernel and the
/// modules the guest needs, with a file giving their load order): the
/// whole package is 400 MB unpacked, the part kept about 9.
fn keep_needed(package: &str, tree: &Path) -> Result<(), ImageError> {
    if !package.starts_with(SERIES) {
        return Ok(());
    }
    let boot = tree.join("boot");
    let vmlinuz =
        find_file(&boot, |n| n.starts_with("vmlinuz-"))?.ok_or_else(|| ImageError::Package {
            what: format!("{package} holds no boot/vmlinuz-*"),
            fix: "check the package".into(),
        })?;
    let modules = tree.join("lib").join("modules");
    let release = std::fs::read_dir(&modules)
        .map_err(io("reading", &modules))?
        .flatten()
        .map(|e| e.path())
        .next()
        .ok_or_else(|| ImageError::Package {
            what: format!("{package} holds no lib/modules/*"),
            fix: "check the package".into(),
        })?;
    let mut all = BTreeMap::new();
    index_modules(&release, &mut all)?;
    let order = load_order(&all, &MODULES, package)?;
    let kept = tree.join("kept");
    let kept_modules = kept.join("modules");
    std::fs::create_dir_all(&kept_modules).map_err(io("creating", &kept_modules))?;
    std::fs::rename(&vmlinuz, kept.join("vmlinuz")).map_err(io("moving", &vmlinuz))?;
    unpack_vmlinux(&kept.join("vmlinuz"), &kept.join("vmlinux"));
    for m in &order {
        let from = &all[m].0;
        std::fs::copy(from, kept_modules.join(format!("{m}.ko"))).map_err(io("copying", from))?;
    }
    let list = kept_modules.join("order");
    std::fs::write(&list, order.join("\n") + "\n").map_err(io("writing", &list))?;
    // The rest of the package goes; `kept` becomes the tree.
    for entry in std::fs::read_dir(tree)
        .map_err(io("reading", tree))?
        .flatten()
    {
        let p = entry.path();
        if p != kept {
            std::fs::remove_dir_all(&p)
                .or_else(|_| std::fs::remove_file(&p))
                .map_err(io("removing", &p))?;
        }
    }
    for entry in std::fs::read_dir(&kept)
        .map_err(io("reading", &kept))?
        .flatten()
    {
        let to = tree.join(entry.file_name());
        std::fs::rename(entry.path(), &to).map_err(io("moving", &to))?;
    }
    std::fs::remove_dir(&kept).map_err(io("removing", &kept))
}

/// The uncompressed kernel inside a bzImage, as an ELF file QEMU boots
/// through its PVH entry point (Debian's kernel has CONFIG_PVH): the guest
/// then skips the BIOS's load of the bzImage and its own xz decompressor,
/// which take about 6 of the 9 s from QEMU's start to the guest's agent
/// under TCG. The payload is the xz stream in the bzImage (as the
/// kernel's scripts/extract-vmlinux finds it). Best effort: without `xz`,
/// or on any surprise, the bzImage boots as it is, only slower.
fn unpack_vmlinux(vmlinuz: &Path, out: &Path) {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\0";
    let Ok(bytes) = std::fs::read(vmlinuz) else {
        return;
    };
    let Some(at) = bytes.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC) else {
        return;
    };
    let Ok(input) = tempfile::NamedTempFile::new_in(out.parent().unwrap_or(Path::new("."))) else {
        return;
    };
    if std::fs::write(input.path(), &bytes[at..]).is_err() {
        return;
    }
    let Ok(unpacked) = crate::spawn::output(
        Command::new("xz")
            .args(["--decompress", "--stdout", "--single-stream"])
            .arg(input.path()),
    ) else {
        return;
    };
    if unpacked.status.success() && unpacked.stdout.starts_with(b"\x7fELF") {
        let _ = std::fs::write(out, &unpacked.stdout);
    }
}

fn find_file(dir: &Path, pick: impl Fn(&str) -> bool) -> Result<Option<PathBuf>, ImageError> {
    Ok(std::fs::read_dir(dir)
        .map_err(io("reading", dir))?
        .flatten()
        .find(|e| pick(&e.file_name().to_string_lossy()))
        .map(|e| e.path()))
}

/// Every module under `dir`: its name (`-` read as `_`, as the kernel
/// does) to its file and the modules it depends on.
fn index_modules(
    dir: &Path,
    out: &mut BTreeMap<String, (PathBuf, Vec<String>)>,
) -> Result<(), ImageError> {
    for entry in std::fs::read_dir(dir)
        .map_err(io("reading", dir))?
        .flatten()
    {
        let p = entry.path();
        if p.is_dir() {
            index_modules(&p, out)?;
        } else if let Some(stem) = p.file_name().and_then(|n| n.to_str()?.strip_suffix(".ko")) {
            let bytes = std::fs::read(&p).map_err(io("reading", &p))?;
            out.insert(stem.replace('-', "_"), (p.clone(), module_depends(&bytes)));
        }
    }
    Ok(())
}

/// A module's `depends=` field (in its `.modinfo` section, a NUL-separated
/// list of `key=value` strings), read without an ELF parser: the string is
/// unique in a module.
pub fn module_depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(at) = ko.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let rest = &ko[at + KEY.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}

/// `wanted` and their dependencies, each after what it depends on.
pub fn load_order(
    all: &BTreeMap<String, (PathBuf, Vec<String>)>,
    wanted: &[&str],
    package: &str,
) -> Result<Vec<String>, ImageError> {
    fn visit(
        m: &str,
        all: &BTreeMap<String, (PathBuf, Vec<String>)>,
        order: &mut Vec<String>,
        package: &str,
    ) -> Result<(), ImageError> {
        if order.iter().any(|o| o == m) {
            return Ok(());
        }
        let (_, deps) = all.get(m).ok_or_else(|| ImageError::NoModule {
            module: m.to_string(),
            package: package.to_string(),
        })?;
        for d in deps {
            visit(d, all, order, package)?;
        }
        order.push(m.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    for m in wanted {
        visit(m, all, &mut order, package)?;
    }
    Ok(order)
}

/// The init script: mounts, loads the modules in order, and hands over to
/// the agent. Its first line on the console tells the KVM probe the guest
/// got this far.
fn init_script() -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
echo "{INIT_MARK}"
for m in $(/bin/busybox cat /lib/modules/order); do
  /bin/busybox insmod /lib/modules/$m.ko || echo "timewait-init: insmod $m failed"
done
exec /bin/{AGENT_BIN}
"#
    )
}

/// The guest agent's binary: `TIMEWAIT_GUEST_AGENT`, else beside this
/// program (or one folder up, for test binaries in `target/*/deps`).
pub fn agent_binary() -> Result<PathBuf, ImageError> {
    if let Some(p) = std::env::var_os(AGENT_ENV) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(io("locating", Path::new("this program")))?;
    let mut looked = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        let p = dir.join(AGENT_BIN);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(dir.display().to_string());
    }
    Err(ImageError::NoAgent {
        looked: looked.join(", "),
    })
}

/// The shared libraries a dynamic binary loads (with its interpreter),
/// from `ldd`; none for a static one.
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out =
        crate::spawn::output(Command::new("ldd").arg(bin)).map_err(|source| ImageError::Tool {
            program: "ldd",
            package: "libc-bin",
            source,
        })?;
    // A static binary: ldd says so and fails.
    if !out.status.success() {
        return Ok(Vec::new());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no file.
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// Builds (or finds in the cache) the guest's image.
pub fn ensure() -> Result<Image, ImageError> {
    let root = root()?;
    let (package, package_version) = kernel_package()?;
    let kernel_tree = unpacked(&root, &package, &package_version)?;
    let (bb_version, _) = candidate(BUSYBOX)?;
    let bb_tree = unpacked(&root, BUSYBOX, &bb_version)?;
    let busybox = bb_tree.join("bin").join("busybox");
    let agent = agent_binary()?;
    let libs = shared_libraries(&agent)?;
    let init = init_script();

    let mut key = Sha256::new();
    key.update(format!(
        "{package} {package_version}\n{BUSYBOX} {bb_version}\n{init}"
    ));
    for f in std::iter::once(&agent).chain(&libs) {
        key.update(f.as_os_str().as_encoded_bytes());
        key.update(std::fs::read(f).map_err(io("reading", f))?);
    }
    let digest: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let initramfs = root.join(format!("initramfs-{}.cpio", &digest[..16]));
    let vmlinux = kernel_tree.join("vmlinux");
    let image = Image {
        kernel: if vmlinux.is_file() {
            vmlinux
        } else {
            kernel_tree.join("vmlinuz")
        },
        initramfs: initramfs.clone(),
        package,
        package_version,
    };
    if initramfs.is_file() {
        return Ok(image);
    }

    let tmp = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(&root)
        .map_err(io("creating a folder in", &root))?;
    let stage = tmp.path().join("root");
    for d in ["bin", "dev", "proc", "sys", "lib/modules"] {
        let p = stage.join(d);
        std::fs::create_dir_all(&p).map_err(io("creating", &p))?;
    }
    let copy = |from: &Path, to: &Path| -> Result<(), ImageError> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(io("copying", from))
    };
    copy(&busybox, &stage.join("bin/busybox"))?;
    // Stripped when binutils is there: a third of the size to unpack.
    let agent_dst = stage.join("bin").join(AGENT_BIN);
    let stripped =
        crate::spawn::output(Command::new("strip").arg("-o").arg(&agent_dst).arg(&agent))
            .is_ok_and(|o| o.status.success());
    if !stripped {
        copy(&agent, &agent_dst)?;
    }
    for lib in &libs {
        copy(lib, &stage.join(lib.strip_prefix("/").unwrap_or(lib)))?;
    }
    let modules = kernel_tree.join("modules");
    for entry in std::fs::read_dir(&modules)
        .map_err(io("reading", &modules))?
        .flatten()
    {
        copy(
            &entry.path(),
            &stage.join("lib/modules").join(entry.file_name()),
        )?;
    }
    let init_path = stage.join("init");
    std::fs::write(&init_path, &init).map_err(io("writing", &init_path))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init_path, std::fs::Permissions::from_mode(0o755))
        .map_err(io("making executable", &init_path))?;

    // busybox cpio reads the file list on stdin.
    let mut list = String::new();
    list_tree(&stage, Path::new("."), &mut list)?;
    let out_file = tmp.path().join("initramfs.cpio");
    let file_list = tmp.path().join("files");
    std::fs::write(&file_list, &list).map_err(io("writing", &file_list))?;
    let stdin = std::fs::File::open(&file_list).map_err(io("opening", &file_list))?;
    let out = std::fs::File::create(&out_file).map_err(io("creating", &out_file))?;
    let status = crate::spawn::spawn(
        Command::new(&busybox)
            .args(["cpio", "-o", "-H", "newc"])
            .current_dir(&stage)
            .stdin(stdin)
            .stdout(out)
            .stderr(std::process::Stdio::null()),
    )
    .and_then(|mut c| c.wait())
    .map_err(io("running busybox cpio in", &stage))?;
    if !status.success() {
        return Err(ImageError::Command {
            command: format!("{} cpio -o -H newc", busybox.display()),
            detail: status.to_string(),
        });
    }
    prune_images(&root);
    match std::fs::rename(&out_file, &initramfs) {
        Ok(()) => Ok(image),
        Err(_) if initramfs.is_file() => Ok(image),
        Err(e) => Err(io("renaming into", &initramfs)(e)),
    }
}

/// How old another build's image must be before a new build removes it:
/// a run that chose it opened it long before (QEMU opens it at start).
const STALE_IMAGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the images of earlier agent builds (each build of the agent
/// makes a new image of about 6 MB).
fn prune_images(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_IMAGE);
        if old && name.starts_with("initramfs-") && name.ends_with(".cpio") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Every path under `dir`, relative, one a line, parents first.
fn list_tree(base: &Path, rel: &Path, out: &mut String) -> Result<(), ImageError> {
    let dir = base.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io("reading", &dir))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        out.push_str(&r.to_string_lossy());
        out.push('\n');
        if e.path().is_dir() {
            list_tree(base, &r, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modules_dependencies_are_read_from_its_modinfo() {
        let ko = b"\x7fELF...\0license=GPL\0depends=virtio_ring,net-failover\0vermagic=6.1\0";
        assert_eq!(module_depends(ko), ["virtio_ring", "net_failover"]);
        assert!(module_depends(b"\0depends=\0name=x\0").is_empty());
        assert!(module_depends(b"no modinfo").is_empty());
    }

    #[test]
    fn modules_load_after_what_they_depend_on() {
        let m = |deps: &[&str]| {
            (
                PathBuf::new(),
                deps.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            )
        };
        let all: BTreeMap<String, _> = [
            ("virtio_ring", m(&[])),
            ("virtio", m(&["virtio_ring"])),
            ("virtio_net", m(&["virtio_ring", "virtio", "net_failover"])),
            ("net_failover", m(&["failover"])),
            ("failover", m(&[])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let order = load_order(&all, &["virtio_net"], "pkg").expect("resolvable");
        assert_eq!(
            order,
            [
                "virtio_ring",
                "virtio",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        let e = load_order(&all, &["tcp_diag"], "pkg").expect_err("missing");
        assert!(e.to_string().contains("tcp_diag"), "{e}");
        assert!(e.to_string().starts_with("linux-6.1-vm:"), "{e}");
    }

    #[test]
    fn a_package_the_archive_lacks_is_an_error_naming_the_stack_and_the_fix() {
        let e = candidate("timewait-no-such-package").expect_err("no such package");
        let text = e.to_string();
        assert!(text.starts_with("linux-6.1-vm: "), "{text}");
        assert!(text.contains("timewait-no-such-package"), "{text}");
        assert!(text.contains("apt-get update"), "{text}");
    }

    #[test]
    fn the_kernel_package_is_read_from_the_metapackage_stanza() {
        let f = control_fields(
            "Package: linux-image-amd64\nVersion: 6.1.192-3\nDepends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)\nDescription: x\n more\n\nPackage: other\n",
        );
        assert_eq!(f["Version"], "6.1.192-3");
        assert_eq!(f["Depends"], "linux-image-6.1.0-57-amd64 (= 6.1.192-3)");
    }
}
