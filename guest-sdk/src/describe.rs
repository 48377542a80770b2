//! Builders for the description a device returns from `create`.

/// A device-tree property value (see the contract's `dt-value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtValue {
    Empty,
    Cells(Vec<u32>),
    Cells64(Vec<u64>),
    Text(String),
    Texts(Vec<String>),
    Bytes(Vec<u8>),
}

/// The device's device-tree node. The host adds `reg`, `interrupts` and
/// `interrupt-parent` from the machine file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtNode {
    pub name: String,
    pub compatible: Vec<String>,
    pub properties: Vec<(String, DtValue)>,
}

impl DtNode {
    /// A node called `name` (no unit address) with `compatible` strings.
    pub fn new(name: &str, compatible: &[&str]) -> Self {
        DtNode {
            name: name.to_owned(),
            compatible: compatible.iter().map(|c| (*c).to_owned()).collect(),
            properties: Vec::new(),
        }
    }

    /// Add a property.
    pub fn prop(mut self, name: &str, value: DtValue) -> Self {
        self.properties.push((name.to_owned(), value));
        self
    }

    /// Add a one-cell property, e.g. `clock-frequency`.
    pub fn prop_u32(self, name: &str, value: u32) -> Self {
        self.prop(name, DtValue::Cells(vec![value]))
    }
}

/// What a device instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub regions: Vec<(String, u64)>,
    pub irq_outputs: u32,
    pub irq_inputs: u32,
    pub dt_node: Option<DtNode>,
}

impl Description {
    /// A description with no regions, lines or node yet.
    pub fn new(name: &str, version: &str) -> Self {
        Description {
            name: name.to_owned(),
            version: version.to_owned(),
            regions: Vec::new(),
            irq_outputs: 0,
            irq_inputs: 0,
            dt_node: None,
        }
    }

    /// Declare the next MMIO region (its index is the number declared before it).
    pub fn region(mut self, name: &str, size: u64) -> Self {
        self.regions.push((name.to_owned(), size));
        self
    }

    pub fn irq_outputs(mut self, n: u32) -> Self {
        self.irq_outputs = n;
        self
    }

    pub fn irq_inputs(mut self, n: u32) -> Self {
        self.irq_inputs = n;
        self
    }

    pub fn dt_node(mut self, node: DtNode) -> Self {
        self.dt_node = Some(node);
        self
    }
}
