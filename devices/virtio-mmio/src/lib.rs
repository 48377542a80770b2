//! An empty virtio-mmio slot, as QEMU's `virt` board has eight of: the
//! transport answers MagicValue, Version 2 and VendorID, reads DeviceID 0
//! ("no device", which Linux skips without an error) and ignores writes.
//! A machine turns a slot into a device by switching its component to
//! `virtio-blk`, `virtio-rng`, … (see docs/virtio.md).

pub type VirtioMmio = wemu_device_virtio::VirtioMmio<wemu_device_virtio::Empty>;

wemu_device_sdk::export_device!(VirtioMmio);

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::testing::TestHost;
    use wemu_device_sdk::{Device, PropValue, Props};
    use wemu_device_virtio::reg;

    #[test]
    fn probes_as_device_id_zero() {
        TestHost::reset();
        let mut d = VirtioMmio::create(&Props::default()).expect("create");
        assert_eq!(d.read(0, reg::MAGIC_VALUE, 4), Ok(0x7472_6976));
        assert_eq!(d.read(0, reg::VERSION, 4), Ok(2));
        assert_eq!(d.read(0, reg::DEVICE_ID, 4), Ok(0));
        assert_eq!(d.describe().name, "virtio-mmio");
    }

    #[test]
    fn refuses_properties() {
        TestHost::reset();
        let p = Props::new(vec![("type".into(), PropValue::Text("blk".into()))]);
        assert!(VirtioMmio::create(&p).is_err());
    }
}
