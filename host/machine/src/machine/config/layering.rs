//! Layering machine files: one file's text parsed with line numbers, its
//! `extends` chain resolved, and its `[[memory]]`/`[[device]]` entries
//! merged by name onto the layers below.

use super::*;

/// Line numbers of byte offsets in one text: the newline offsets once,
/// then a binary search per lookup (a file with many entries asks for
/// many lines, and counting from the start each time is quadratic).
pub(super) struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    pub(super) fn new(text: &str) -> Self {
        Lines { newlines: text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i).collect() }
    }

    /// 1-based line of byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }
}

/// Memory regions or devices by name while a layer is merged onto them:
/// lookups through a map, removals as holes filled in at the end, so a
/// file of n entries merges in O(n log n).
pub(super) struct ByName<T> {
    items: Vec<Option<T>>,
    index: std::collections::HashMap<String, usize>,
}

impl<T> ByName<T> {
    pub(super) fn new(list: Vec<T>, name: impl Fn(&T) -> &str) -> Self {
        let index = list.iter().enumerate().map(|(i, t)| (name(t).to_owned(), i)).collect();
        ByName { items: list.into_iter().map(Some).collect(), index }
    }

    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        let i = *self.index.get(name)?;
        self.items.get_mut(i)?.as_mut()
    }

    /// Remove `name`; false if there is no such entry.
    pub(super) fn remove(&mut self, name: &str) -> bool {
        match self.index.remove(name) {
            Some(i) => self.items.get_mut(i).and_then(Option::take).is_some(),
            None => false,
        }
    }

    /// Append a new entry (the caller checked there is none of that name).
    pub(super) fn push(&mut self, name: &str, t: T) -> &mut T {
        self.index.insert(name.to_owned(), self.items.len());
        self.items.push(Some(t));
        self.items.last_mut().and_then(Option::as_mut).expect("just pushed")
    }

    /// The entries in order (parent's first, then the new ones).
    pub(super) fn into_vec(self) -> Vec<T> {
        self.items.into_iter().flatten().collect()
    }
}

/// Where each name was first given in one file, to refuse a second entry
/// of the same name there (an `extends` child is the way to change one).
#[derive(Default)]
pub(super) struct FirstSeen(std::collections::HashMap<String, Loc>);

impl FirstSeen {
    pub(super) fn check(&mut self, kind: &str, name: &str, loc: &Loc) -> Result<(), ConfigError> {
        match self.0.get(name) {
            Some(first) => Err(err(
                loc,
                format!(
                    "{kind} '{name}' is defined twice in this file, at {first} and at {loc}; give each its own \
                     name (to change an inherited {kind}, repeat its name in a file that `extends` it)"
                ),
            )),
            None => {
                self.0.insert(name.to_owned(), loc.clone());
                Ok(())
            }
        }
    }
}

/// Load machine `name` (a name on the machine path or a .toml path).
pub fn load(path: &SearchPath, name: &str) -> Result<MachineSpec, ConfigError> {
    let mut chain = Vec::new();
    load_layer(path, name, &mut chain, None)
}

pub(super) fn load_layer(
    path: &SearchPath,
    name: &str,
    chain: &mut Vec<String>,
    from: Option<&Loc>,
) -> Result<MachineSpec, ConfigError> {
    let top = Loc { origin: format!("machine '{name}'"), line: None };
    let at = from.unwrap_or(&top);
    let origin = search::find_machine(path, name).ok_or_else(|| {
        let searched: Vec<String> = path.dirs.iter().map(|d| d.display().to_string()).collect();
        err(
            at,
            format!(
                "no machine named '{name}' (searched {}the built-in machines; `wemu machines` lists them)",
                searched.iter().map(|s| format!("{s}, ")).collect::<String>()
            ),
        )
    })?;
    let text = search::read_machine(&origin)
        .map_err(|e| err(at, format!("cannot read machine file {origin}: {e}")))?;
    let origin_str = origin.to_string();
    if chain.contains(&origin_str) || chain.len() > 16 {
        return Err(err(
            at,
            format!("machine files extend each other in a loop: {} -> {origin_str}", chain.join(" -> ")),
        ));
    }
    chain.push(origin_str.clone());
    parse_layer(path, &origin, &text, chain)
}

/// Parse one machine file's text (resolving its `extends`).
pub fn parse_layer(
    path: &SearchPath,
    origin: &Origin,
    text: &str,
    chain: &mut Vec<String>,
) -> Result<MachineSpec, ConfigError> {
    let origin_str = origin.to_string();
    let lines = Lines::new(text);
    let loc_at = |span: std::ops::Range<usize>| Loc {
        origin: origin_str.clone(),
        line: Some(lines.line_of(span.start)),
    };
    let file: FileRepr = toml::from_str(text).map_err(|e| ConfigError {
        loc: Loc { origin: origin_str.clone(), line: e.span().map(|s| lines.line_of(s.start)) },
        message: e.message().trim().to_owned(),
    })?;
    let base_dir = search::origin_dir(origin).map(|p| p.to_path_buf());

    let mut spec = match &file.extends {
        Some(parent) => {
            let loc = loc_at(parent.span());
            let name = relative_to(base_dir.as_deref(), parent.get_ref(), "toml");
            load_layer(path, &name, chain, Some(&loc))?
        }
        None => MachineSpec {
            name: String::new(),
            description: String::new(),
            origin: origin_str.clone(),
            harts: 1,
            isa: "rv64imafdc_zicsr_zifencei".into(),
            timebase_frequency: 10_000_000,
            misaligned: Misaligned::default(),
            interrupt_parent: None,
            memory: Vec::new(),
            devices: Vec::new(),
        },
    };
    spec.origin = origin_str.clone();
    spec.name = file.name.clone().unwrap_or_else(|| match origin {
        Origin::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        Origin::BuiltIn(n) => (*n).to_owned(),
    });
    if let Some(d) = file.description {
        spec.description = d;
    }
    if let Some(p) = file.interrupt_parent {
        spec.interrupt_parent = Some(p);
    }
    if let Some(cpu) = file.cpu {
        if let Some(h) = cpu.harts {
            spec.harts = h;
        }
        if let Some(i) = cpu.isa {
            spec.isa = i;
        }
        if let Some(t) = cpu.timebase_frequency {
            spec.timebase_frequency = t;
        }
        if let Some(m) = cpu.misaligned {
            spec.misaligned = m.into();
        }
    }
    let mut memory = ByName::new(std::mem::take(&mut spec.memory), |m| &m.name);
    let mut seen = FirstSeen::default();
    for m in file.memory {
        let loc = loc_at(m.span());
        seen.check("memory", &m.get_ref().name, &loc)?;
        merge_memory(&mut memory, m.into_inner(), loc)?;
    }
    spec.memory = memory.into_vec();
    let mut devices = ByName::new(std::mem::take(&mut spec.devices), |d| &d.name);
    let mut seen = FirstSeen::default();
    for d in file.device {
        let loc = loc_at(d.span());
        seen.check("device", &d.get_ref().name, &loc)?;
        merge_device(&mut devices, d.into_inner(), loc, base_dir.as_deref())?;
    }
    spec.devices = devices.into_vec();
    Ok(spec)
}

/// A path-like `name` (not a search name) in a machine file is relative
/// to that file's directory.
pub(super) fn relative_to(base_dir: Option<&std::path::Path>, name: &str, ext: &str) -> String {
    match base_dir {
        Some(dir) if search::is_path(name, ext) && std::path::Path::new(name).is_relative() => {
            dir.join(name).display().to_string()
        }
        _ => name.to_owned(),
    }
}

pub(super) fn merge_memory(
    list: &mut ByName<MemorySpec>,
    m: MemoryRepr,
    loc: Loc,
) -> Result<(), ConfigError> {
    if m.remove {
        if list.remove(&m.name) {
            return Ok(());
        }
        return Err(err(&loc, format!("cannot remove memory '{}': no such region", m.name)));
    }
    match list.get_mut(&m.name) {
        Some(x) => {
            if let Some(b) = m.base {
                x.base = b;
            }
            if let Some(s) = m.size {
                x.size = s.0;
            }
            if let Some(r) = m.readonly {
                x.readonly = r;
            }
            x.loc = loc;
        }
        None => {
            let base = m.base.ok_or_else(|| err(&loc, format!("memory '{}' needs `base`", m.name)))?;
            let size = m.size.ok_or_else(|| err(&loc, format!("memory '{}' needs `size`", m.name)))?;
            let name = m.name.clone();
            list.push(
                &name,
                MemorySpec { name: m.name, base, size: size.0, readonly: m.readonly.unwrap_or(false), loc },
            );
        }
    }
    Ok(())
}

pub(super) fn prop_value(name: &str, v: &toml::Value, loc: &Loc) -> Result<PropVal, ConfigError> {
    match v {
        toml::Value::Boolean(b) => Ok(PropVal::Bool(*b)),
        toml::Value::Integer(i) => Ok(PropVal::Int(*i)),
        toml::Value::String(s) => text_prop(name, s, loc),
        other => Err(err(
            loc,
            format!(
                "property '{name}' is a {}; properties are booleans, integers or strings",
                other.type_str()
            ),
        )),
    }
}

pub(super) fn check_name(name: &str, loc: &Loc) -> Result<(), ConfigError> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(err(loc, format!("'{name}' is not a valid device name (letters, digits, - and _)")))
    }
}

pub(super) fn merge_device(
    list: &mut ByName<DeviceSpec>,
    d: DeviceRepr,
    loc: Loc,
    base_dir: Option<&std::path::Path>,
) -> Result<(), ConfigError> {
    check_name(&d.name, &loc)?;
    if d.remove {
        if list.remove(&d.name) {
            return Ok(());
        }
        return Err(err(&loc, format!("cannot remove device '{}': no such device", d.name)));
    }
    let x = match list.get_mut(&d.name) {
        Some(x) => x,
        None => {
            let component =
                d.component.as_deref().map(|c| relative_to(base_dir, c, "wasm")).ok_or_else(|| {
                    err(&loc, format!("device '{}' needs `component` (the device model's name)", d.name))
                })?;
            let name = d.name.clone();
            list.push(
                &name,
                DeviceSpec {
                    name: d.name.clone(),
                    component,
                    regions: Vec::new(),
                    irqs: Vec::new(),
                    props: Vec::new(),
                    chardevs: Vec::new(),
                    block: None,
                    dma: Vec::new(),
                    timers: false,
                    power: false,
                    memory_limit: None,
                    fuel: None,
                    max_timers: None,
                    max_irq_changes: None,
                    log_limit: None,
                    on_fault: None,
                    loc: loc.clone(),
                },
            )
        }
    };
    x.loc = loc.clone();
    if let Some(c) = d.component {
        x.component = relative_to(base_dir, &c, "wasm");
    }
    if let Some(r) = d.regions {
        x.regions = r;
    }
    if let Some(i) = d.irqs {
        x.irqs = i;
    }
    if let Some(props) = d.props {
        for (k, v) in &props {
            let v = prop_value(k, v, &loc)?;
            x.props.retain(|(n, _)| n != k);
            x.props.push((k.clone(), v));
        }
    }
    if let Some(c) = d.chardev {
        x.chardevs = match c {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
    }
    if let Some(b) = d.block {
        let (file, ro) = match b {
            BlockSpec::Path(p) => (p, false),
            BlockSpec::Table { file, readonly } => (file, readonly),
        };
        let p = PathBuf::from(file);
        let p = match base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        };
        x.block = Some((p, ro));
    }
    if let Some(w) = d.dma {
        x.dma = w.into_iter().map(|w| w.resolve(&loc)).collect::<Result<_, _>>()?;
    }
    if let Some(t) = d.timers {
        x.timers = t;
    }
    if let Some(p) = d.power {
        x.power = p;
    }
    if let Some(m) = d.memory_limit {
        x.memory_limit = Some(m.0);
    }
    if let Some(f) = d.fuel {
        x.fuel = Some(f);
    }
    for (key, to) in [
        (d.max_timers, &mut x.max_timers),
        (d.max_irq_changes, &mut x.max_irq_changes),
        (d.log_limit, &mut x.log_limit),
    ] {
        if key.is_some() {
            *to = key;
        }
    }
    if let Some(p) = d.on_fault {
        x.on_fault = Some(p);
    }
    Ok(())
}
