//! Typed views of the domain model: reading and editing.

use vireo_core::domain::{
    ChannelSpec, ControllerSpec, DiskSource, DiskSpec, Domain, DomainError, FilesystemSpec,
    GraphicsSpec, HostdevSpec, InputSpec, InterfaceSource, InterfaceSpec, LifecycleEvent,
    PciAddress, QEMU_NS, RngSpec, SerialSpec, SoundSpec, Topology, TpmSpec, VIREO_NS, VideoSpec,
    roundtrip,
};
use vireo_core::xml::XmlError;

const WIN11: &str = r#"<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>win11</name>
  <uuid>00000000-1111-2222-3333-444444444444</uuid>
  <title>Windows 11</title>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://microsoft.com/win/11"/>
    </libosinfo:libosinfo>
  </metadata>
  <maxMemory slots='16' unit='GiB'>32</maxMemory>
  <memory unit='GiB'>8</memory>
  <currentMemory unit='MiB'>4096</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <firmware>
      <feature enabled='yes' name='secure-boot'/>
      <feature enabled='no' name='enrolled-keys'/>
    </firmware>
    <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS.ms.fd'>/var/lib/libvirt/qemu/nvram/win11_VARS.fd</nvram>
    <boot dev='cdrom'/>
    <boot dev='hd'/>
    <bootmenu enable='yes' timeout='3000'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <hyperv mode='custom'>
      <relaxed state='on'/>
      <vapic state='on'/>
      <spinlocks state='on' retries='8191'/>
      <vendor_id state='on' value='KVM Hv'/>
    </hyperv>
    <kvm>
      <hidden state='on'/>
    </kvm>
    <vmport state='off'/>
    <smm state='on'/>
  </features>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='allow'>Skylake-Client</model>
    <topology sockets='1' dies='1' cores='2' threads='2'/>
    <feature policy='require' name='vmx'/>
    <feature policy='disable' name='hypervisor'/>
  </cpu>
  <clock offset='localtime'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='hpet' present='no'/>
    <timer name='hypervclock' present='yes'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/var/lib/libvirt/images/win11.qcow2'/>
      <target dev='sda' bus='sata'/>
      <boot order='2'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='iso' volume='Win11.iso'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
      <boot order='1'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
    <controller type='pci' index='0' model='pcie-root'/>
    <interface type='network'>
      <mac address='52:54:00:11:22:33'/>
      <source network='default'/>
      <model type='e1000e'/>
      <link state='down'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='spicevmc'>
      <target type='virtio' name='com.redhat.spice.0'/>
    </channel>
    <input type='tablet' bus='usb'/>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'/>
    </tpm>
    <graphics type='spice' autoport='yes'>
      <listen type='address' address='127.0.0.1'/>
      <image compression='off'/>
    </graphics>
    <sound model='ich9'/>
    <video>
      <model type='qxl' ram='65536' vram='65536' vgamem='16384' heads='1' primary='yes'/>
    </video>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x0a' slot='0x00' function='0x1'/>
      </source>
    </hostdev>
    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source>
        <vendor id='0x046d'/>
        <product id='0xc52b'/>
      </source>
    </hostdev>
    <filesystem type='mount' accessmode='passthrough'>
      <driver type='virtiofs'/>
      <source dir='/home/me/share'/>
      <target dir='share'/>
    </filesystem>
    <memballoon model='virtio'/>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-no-hpet'/>
  </qemu:commandline>
</domain>
"#;

fn win11() -> Domain {
    Domain::parse(WIN11).unwrap()
}

#[test]
fn reads_identity_memory_vcpu() {
    let d = win11();
    assert_eq!(d.to_xml(), WIN11);
    assert_eq!(d.domain_type().as_deref(), Some("kvm"));
    assert_eq!(d.name().as_deref(), Some("win11"));
    assert_eq!(
        d.uuid().as_deref(),
        Some("00000000-1111-2222-3333-444444444444")
    );
    assert_eq!(d.title().as_deref(), Some("Windows 11"));
    assert_eq!(d.description(), None);
    assert_eq!(d.memory_kib().unwrap(), Some(8 * 1024 * 1024));
    assert_eq!(d.current_memory_kib().unwrap(), Some(4 * 1024 * 1024));
    let max = d.max_memory().unwrap().unwrap();
    assert_eq!((max.kib, max.slots), (32 * 1024 * 1024, Some(16)));
    let v = d.vcpu().unwrap().unwrap();
    assert_eq!(
        (v.count, v.current, v.placement.as_deref()),
        (4, Some(2), Some("static"))
    );
    assert_eq!(d.on_poweroff().as_deref(), Some("destroy"));
    assert_eq!(
        d.lifecycle(LifecycleEvent::Reboot).as_deref(),
        Some("restart")
    );
    assert_eq!(d.on_crash().as_deref(), Some("destroy"));
    assert_eq!(
        d.qemu_commandline()
            .unwrap()
            .find("qemu:arg")
            .unwrap()
            .attr("value")
            .as_deref(),
        Some("-no-hpet")
    );
    assert_eq!(
        d.metadata("http://libosinfo.org/xmlns/libvirt/domain/1.0")
            .unwrap()
            .local_name(),
        "libosinfo"
    );
}

#[test]
fn reads_os_features_cpu_clock() {
    let d = win11();
    let os = d.os().unwrap();
    assert_eq!(os.os_type().as_deref(), Some("hvm"));
    assert_eq!(os.arch().as_deref(), Some("x86_64"));
    assert_eq!(os.machine().as_deref(), Some("pc-q35-7.2"));
    assert_eq!(os.firmware().as_deref(), Some("efi"));
    let fw = os.firmware_features().unwrap();
    assert_eq!(fw.len(), 2);
    assert!(fw[0].name == "secure-boot" && fw[0].enabled);
    assert!(fw[1].name == "enrolled-keys" && !fw[1].enabled);
    let loader = os.loader().unwrap();
    assert_eq!(
        loader.path().as_deref(),
        Some("/usr/share/OVMF/OVMF_CODE.secboot.fd")
    );
    assert_eq!(loader.readonly().unwrap(), Some(true));
    assert_eq!(loader.secure().unwrap(), Some(true));
    assert_eq!(loader.loader_type().as_deref(), Some("pflash"));
    let nvram = os.nvram().unwrap();
    assert_eq!(
        nvram.path().as_deref(),
        Some("/var/lib/libvirt/qemu/nvram/win11_VARS.fd")
    );
    assert_eq!(
        nvram.template().as_deref(),
        Some("/usr/share/OVMF/OVMF_VARS.ms.fd")
    );
    assert_eq!(os.boot_devices(), vec!["cdrom", "hd"]);
    let menu = os.boot_menu().unwrap().unwrap();
    assert_eq!((menu.enable, menu.timeout), (Some(true), Some(3000)));

    let f = d.features().unwrap();
    assert!(f.acpi() && f.apic() && !f.pae());
    assert_eq!(f.smm().unwrap(), Some(true));
    assert_eq!(f.vmport().unwrap(), Some(false));
    assert_eq!(f.pmu().unwrap(), None);
    assert_eq!(f.kvm_hidden().unwrap(), Some(true));
    let h = f.hyperv().unwrap();
    assert_eq!(h.mode().as_deref(), Some("custom"));
    assert_eq!(h.feature("relaxed").unwrap(), Some(true));
    assert_eq!(h.feature("synic").unwrap(), None);
    assert_eq!(h.spinlocks_retries().unwrap(), Some(8191));
    assert_eq!(h.vendor_id().as_deref(), Some("KVM Hv"));
    assert_eq!(h.features().unwrap().len(), 4);

    let c = d.cpu().unwrap();
    assert_eq!(c.mode().as_deref(), Some("custom"));
    assert_eq!(c.match_().as_deref(), Some("exact"));
    assert_eq!(c.check().as_deref(), Some("partial"));
    let m = c.model().unwrap();
    assert_eq!(
        (m.name.as_deref(), m.fallback.as_deref()),
        (Some("Skylake-Client"), Some("allow"))
    );
    let t = c.topology().unwrap().unwrap();
    assert_eq!(
        (t.sockets, t.dies, t.cores, t.threads, t.total()),
        (1, Some(1), 2, 2, 4)
    );
    let feats = c.features();
    assert_eq!(feats[1].name, "hypervisor");
    assert_eq!(feats[1].policy.as_deref(), Some("disable"));

    let clock = d.clock().unwrap();
    assert_eq!(clock.offset().as_deref(), Some("localtime"));
    let timers = clock.timers().unwrap();
    assert_eq!(timers.len(), 3);
    assert_eq!(clock.timer("hpet").unwrap().unwrap().present, Some(false));
    assert_eq!(timers[0].tickpolicy.as_deref(), Some("catchup"));
}

#[test]
fn reads_devices() {
    let d = win11();
    let dev = d.devices();
    assert_eq!(
        dev.emulator().as_deref(),
        Some("/usr/bin/qemu-system-x86_64")
    );
    let disks: Vec<_> = dev.disks().collect();
    assert_eq!(disks.len(), 2);
    let hd = disks[0];
    assert_eq!(hd.disk_type().as_deref(), Some("file"));
    assert_eq!(hd.device(), "disk");
    assert_eq!(hd.driver_name().as_deref(), Some("qemu"));
    assert_eq!(hd.driver_type().as_deref(), Some("qcow2"));
    assert_eq!(hd.cache().as_deref(), Some("none"));
    assert_eq!(hd.discard().as_deref(), Some("unmap"));
    assert_eq!(
        hd.source(),
        Some(DiskSource::File(
            "/var/lib/libvirt/images/win11.qcow2".into()
        ))
    );
    assert_eq!(hd.target_dev().as_deref(), Some("sda"));
    assert_eq!(hd.target_bus().as_deref(), Some("sata"));
    assert_eq!(hd.boot_order().unwrap(), Some(2));
    assert!(!hd.readonly());
    let addr = hd.address().unwrap();
    assert_eq!(addr.kind.as_deref(), Some("drive"));
    assert_eq!(addr.get("unit"), Some("0"));
    let cd = disks[1];
    assert_eq!(cd.device(), "cdrom");
    assert!(cd.readonly());
    assert_eq!(
        cd.source(),
        Some(DiskSource::Volume {
            pool: "iso".into(),
            volume: "Win11.iso".into()
        })
    );

    let ctrls: Vec<_> = dev.controllers().collect();
    assert_eq!(ctrls[0].controller_type().as_deref(), Some("usb"));
    assert_eq!(ctrls[0].model().as_deref(), Some("qemu-xhci"));
    assert_eq!(ctrls[0].ports().unwrap(), Some(15));
    assert_eq!(ctrls[1].index().unwrap(), Some(0));

    let nic = dev.interfaces().next().unwrap();
    assert_eq!(nic.interface_type().as_deref(), Some("network"));
    assert_eq!(nic.mac().as_deref(), Some("52:54:00:11:22:33"));
    assert_eq!(
        nic.source(),
        Some(InterfaceSource::Network("default".into()))
    );
    assert_eq!(nic.source_network().as_deref(), Some("default"));
    assert_eq!(nic.model().as_deref(), Some("e1000e"));
    assert_eq!(nic.link_up(), Some(false));
    assert_eq!(
        nic.address().unwrap().pci().unwrap(),
        Some(PciAddress {
            domain: 0,
            bus: 1,
            slot: 0,
            function: 0
        })
    );

    let g = dev.graphics().next().unwrap();
    assert_eq!(g.graphics_type().as_deref(), Some("spice"));
    assert_eq!(g.autoport().unwrap(), Some(true));
    assert_eq!(g.port().unwrap(), None);
    assert_eq!(g.listen().as_deref(), Some("127.0.0.1"));
    let v = dev.videos().next().unwrap();
    assert_eq!(v.model_type().as_deref(), Some("qxl"));
    assert_eq!(
        (v.vram().unwrap(), v.heads().unwrap(), v.primary().unwrap()),
        (Some(65536), Some(1), Some(true))
    );
    let input = dev.inputs().next().unwrap();
    assert_eq!(
        (input.input_type().as_deref(), input.bus().as_deref()),
        (Some("tablet"), Some("usb"))
    );
    assert_eq!(
        dev.sounds().next().unwrap().model().as_deref(),
        Some("ich9")
    );

    let hostdevs: Vec<_> = dev.hostdevs().collect();
    let pci = hostdevs[0].pci_source().unwrap().unwrap();
    assert_eq!(pci.to_string(), "0000:0a:00.1");
    assert_eq!(hostdevs[0].managed().unwrap(), Some(true));
    assert_eq!(hostdevs[0].usb_source().unwrap(), None);
    let usb = hostdevs[1].usb_source().unwrap().unwrap();
    assert_eq!((usb.vendor, usb.product), (Some(0x046d), Some(0xc52b)));

    let tpm = dev.tpms().next().unwrap();
    assert_eq!(tpm.model().as_deref(), Some("tpm-crb"));
    assert_eq!(tpm.backend_type().as_deref(), Some("emulator"));
    assert_eq!(tpm.backend_version().as_deref(), Some("2.0"));
    let fs = dev.filesystems().next().unwrap();
    assert_eq!(fs.driver_type().as_deref(), Some("virtiofs"));
    assert_eq!(fs.source_dir().as_deref(), Some("/home/me/share"));
    assert_eq!(fs.target_dir().as_deref(), Some("share"));
    let ch = dev.channels().next().unwrap();
    assert_eq!(ch.channel_type().as_deref(), Some("spicevmc"));
    assert_eq!(ch.target_name().as_deref(), Some("com.redhat.spice.0"));
    let serial = dev.serials().next().unwrap();
    assert_eq!(serial.serial_type().as_deref(), Some("pty"));
    assert_eq!(serial.target_port().unwrap(), Some(0));
    assert_eq!(
        dev.consoles().next().unwrap().target_type().as_deref(),
        Some("serial")
    );
    assert_eq!(dev.memballoon().unwrap().model().as_deref(), Some("virtio"));
    let rng = dev.rngs().next().unwrap();
    assert_eq!(rng.backend_model().as_deref(), Some("random"));
    assert_eq!(rng.backend_path().as_deref(), Some("/dev/urandom"));
    assert_eq!(dev.all().count(), 19);
}

/// The lines of `after` that differ from `before`, as (removed, added).
fn changed_lines(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut start = 0;
    while start < a.len() && start < b.len() && a[start] == b[start] {
        start += 1;
    }
    let mut end = 0;
    while end < a.len() - start
        && end < b.len() - start
        && a[a.len() - 1 - end] == b[b.len() - 1 - end]
    {
        end += 1;
    }
    (
        a[start..a.len() - end]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        b[start..b.len() - end]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

fn assert_change(before: &Domain, after: &Domain, removed: &[&str], added: &[&str]) {
    let (r, a) = changed_lines(&before.to_xml(), &after.to_xml());
    assert_eq!(
        (r, a),
        (
            removed.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            added.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        )
    );
}

#[test]
fn memory_units_are_kept_when_exact() {
    let orig = win11();
    let mut d = orig.clone();
    d.set_memory_kib(16 * 1024 * 1024);
    assert_change(
        &orig,
        &d,
        &["  <memory unit='GiB'>8</memory>"],
        &["  <memory unit='GiB'>16</memory>"],
    );
    d.set_memory_kib(1536 * 1024);
    assert!(
        d.to_xml()
            .contains("  <memory unit='KiB'>1572864</memory>\n")
    );
    let mut d = orig.clone();
    d.set_current_memory_kib(Some(2 * 1024 * 1024));
    assert!(
        d.to_xml()
            .contains("<currentMemory unit='MiB'>2048</currentMemory>")
    );
    d.set_current_memory_kib(None);
    assert_change(
        &orig,
        &d,
        &["  <currentMemory unit='MiB'>4096</currentMemory>"],
        &[],
    );
    assert_eq!(d.max_memory().unwrap(), orig.max_memory().unwrap());
}

#[test]
fn identity_and_vcpu_edits() {
    let orig = win11();
    let mut d = orig.clone();
    d.set_title(None);
    d.set_description(Some("my <VM>"));
    assert_change(
        &orig,
        &d,
        &["  <title>Windows 11</title>"],
        &["  <description>my &lt;VM&gt;</description>"],
    );
    let mut d = orig.clone();
    d.set_vcpus(8);
    d.set_vcpu_current(None);
    assert_change(
        &orig,
        &d,
        &["  <vcpu placement='static' current='2'>4</vcpu>"],
        &["  <vcpu placement='static'>8</vcpu>"],
    );
    let mut d = orig.clone();
    d.set_on_crash(None);
    d.set_on_reboot(Some("destroy"));
    assert_change(
        &orig,
        &d,
        &[
            "  <on_reboot>restart</on_reboot>",
            "  <on_crash>destroy</on_crash>",
        ],
        &["  <on_reboot>destroy</on_reboot>"],
    );
}

#[test]
fn os_edits() {
    let orig = win11();
    let mut d = orig.clone();
    {
        let mut os = d.os_mut();
        os.set_firmware(None);
        os.set_firmware_feature("secure-boot", None);
        os.set_firmware_feature("enrolled-keys", None);
        os.set_loader_secure(Some(false));
        os.set_nvram_template(None);
        os.set_boot_devices(&["hd"]);
        os.set_boot_menu(None, None);
        os.set_machine(Some("q35"));
    }
    assert_change(
        &orig,
        &d,
        &[
            "  <os firmware='efi'>",
            "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
            "    <firmware>",
            "      <feature enabled='yes' name='secure-boot'/>",
            "      <feature enabled='no' name='enrolled-keys'/>",
            "    </firmware>",
            "    <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>",
            "    <nvram template='/usr/share/OVMF/OVMF_VARS.ms.fd'>/var/lib/libvirt/qemu/nvram/win11_VARS.fd</nvram>",
            "    <boot dev='cdrom'/>",
            "    <boot dev='hd'/>",
            "    <bootmenu enable='yes' timeout='3000'/>",
        ],
        &[
            "  <os>",
            "    <type arch='x86_64' machine='q35'>hvm</type>",
            "    <loader readonly='yes' secure='no' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>",
            "    <nvram>/var/lib/libvirt/qemu/nvram/win11_VARS.fd</nvram>",
            "    <boot dev='hd'/>",
        ],
    );
    // a BIOS guest gets UEFI
    let mut d = Domain::parse("<domain type=\"kvm\">\n  <name>a</name>\n  <os>\n    <type arch=\"x86_64\" machine=\"q35\">hvm</type>\n    <boot dev=\"hd\"/>\n  </os>\n</domain>\n").unwrap();
    d.os_mut().set_firmware(Some("efi"));
    d.os_mut().set_firmware_feature("secure-boot", Some(true));
    d.os_mut()
        .set_loader_path(Some("/usr/share/OVMF/OVMF_CODE.fd"));
    d.os_mut().set_loader_readonly(Some(true));
    d.os_mut().set_loader_type(Some("pflash"));
    d.os_mut().set_boot_menu(Some(true), Some(5000));
    assert_eq!(
        d.to_xml(),
        "<domain type=\"kvm\">\n  <name>a</name>\n  <os firmware=\"efi\">\n    <type arch=\"x86_64\" machine=\"q35\">hvm</type>\n    <firmware>\n      <feature enabled=\"yes\" name=\"secure-boot\"/>\n    </firmware>\n    <loader readonly=\"yes\" type=\"pflash\">/usr/share/OVMF/OVMF_CODE.fd</loader>\n    <boot dev=\"hd\"/>\n    <bootmenu enable=\"yes\" timeout=\"5000\"/>\n  </os>\n</domain>\n"
    );
    d.os_mut().remove_loader();
    d.os_mut().set_loader_path(None);
    assert!(d.os().unwrap().loader().is_none());
}

#[test]
fn feature_cpu_clock_edits() {
    let orig = win11();
    let mut d = orig.clone();
    {
        let mut f = d.features_mut();
        f.set_acpi(true); // already there: no change
        f.set_smm(Some(true)); // already on: no change
        f.set_vmport(None);
        f.set_kvm_hidden(None);
        f.set_hyperv_feature("vpindex", Some(true));
        f.set_hyperv_spinlocks(None);
        f.set_pmu(Some(false));
    }
    assert_change(
        &orig,
        &d,
        &[
            "      <spinlocks state='on' retries='8191'/>",
            "      <vendor_id state='on' value='KVM Hv'/>",
            "    </hyperv>",
            "    <kvm>",
            "      <hidden state='on'/>",
            "    </kvm>",
            "    <vmport state='off'/>",
        ],
        &[
            "      <vpindex state='on'/>",
            "      <vendor_id state='on' value='KVM Hv'/>",
            "    </hyperv>",
            "    <pmu state='off'/>",
        ],
    );
    let mut d = orig.clone();
    {
        let mut c = d.cpu_mut();
        c.set_mode(Some("host-passthrough"));
        c.set_match(None);
        c.set_check(None);
        c.set_model(None);
        c.set_feature("hypervisor", None);
        c.set_feature("vmx", Some("optional"));
        c.set_feature("invtsc", Some("require"));
        c.set_topology(Some(Topology {
            sockets: 1,
            dies: None,
            clusters: None,
            cores: 4,
            threads: 1,
        }));
        c.set_migratable(Some(true));
    }
    assert_change(
        &orig,
        &d,
        &[
            "  <cpu mode='custom' match='exact' check='partial'>",
            "    <model fallback='allow'>Skylake-Client</model>",
            "    <topology sockets='1' dies='1' cores='2' threads='2'/>",
            "    <feature policy='require' name='vmx'/>",
            "    <feature policy='disable' name='hypervisor'/>",
        ],
        &[
            "  <cpu mode='host-passthrough' migratable='on'>",
            "    <topology sockets='1' cores='4' threads='1'/>",
            "    <feature policy='optional' name='vmx'/>",
            "    <feature policy='require' name='invtsc'/>",
        ],
    );
    let mut d = orig.clone();
    d.clock_mut().set_offset("utc");
    d.clock_mut().set_timer("hpet", Some(true), None);
    d.clock_mut().set_timer("pit", None, Some("delay"));
    assert!(d.clock_mut().remove_timer("hypervclock"));
    assert_change(
        &orig,
        &d,
        &[
            "  <clock offset='localtime'>",
            "    <timer name='rtc' tickpolicy='catchup'/>",
            "    <timer name='hpet' present='no'/>",
            "    <timer name='hypervclock' present='yes'/>",
        ],
        &[
            "  <clock offset='utc'>",
            "    <timer name='rtc' tickpolicy='catchup'/>",
            "    <timer name='hpet' present='yes'/>",
            "    <timer name='pit' tickpolicy='delay'/>",
        ],
    );
}

#[test]
fn device_edits() {
    let orig = win11();
    let mut d = orig.clone();
    {
        let mut dev = d.devices_mut();
        let mut disk = dev.disk_mut(0).unwrap();
        disk.set_target_bus(Some("virtio"));
        disk.set_target_dev("vda");
        disk.set_cache(None);
        disk.set_boot_order(None);
        let mut cd = dev.disk_mut(1).unwrap();
        cd.set_source(Some(&DiskSource::File("/isos/virtio-win.iso".into())));
    }
    assert_change(
        &orig,
        &d,
        &[
            "      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>",
            "      <source file='/var/lib/libvirt/images/win11.qcow2'/>",
            "      <target dev='sda' bus='sata'/>",
            "      <boot order='2'/>",
            "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>",
            "    </disk>",
            "    <disk type='volume' device='cdrom'>",
            "      <driver name='qemu' type='raw'/>",
            "      <source pool='iso' volume='Win11.iso'/>",
        ],
        &[
            "      <driver name='qemu' type='qcow2' discard='unmap'/>",
            "      <source file='/var/lib/libvirt/images/win11.qcow2'/>",
            "      <target dev='vda' bus='virtio'/>",
            "    </disk>",
            "    <disk type='file' device='cdrom'>",
            "      <driver name='qemu' type='raw'/>",
            "      <source file='/isos/virtio-win.iso'/>",
        ],
    );

    let mut d = orig.clone();
    {
        let mut dev = d.devices_mut();
        let mut nic = dev.interface_mut(0).unwrap();
        nic.set_source(&InterfaceSource::Bridge("br0".into()));
        nic.set_model(Some("virtio"));
        nic.set_link_up(None);
        let mut g = dev.graphics_mut(0).unwrap();
        g.set_listen(Some("0.0.0.0"));
        g.set_passwd(Some("s3cret"));
        let mut v = dev.video_mut(0).unwrap();
        v.set_model_type("virtio");
        v.set_vram(None);
        dev.memballoon_mut(0).unwrap().set_model("none");
        assert!(dev.remove("hostdev", 1).is_some());
        assert!(dev.remove("hostdev", 5).is_none());
    }
    let xml = d.to_xml();
    assert!(xml.contains("    <interface type='bridge'>\n      <mac address='52:54:00:11:22:33'/>\n      <source bridge='br0'/>\n      <model type='virtio'/>\n      <address"));
    assert!(xml.contains("<graphics type='spice' autoport='yes' passwd='s3cret'>\n      <listen type='address' address='0.0.0.0'/>"));
    assert!(xml.contains("<model type='virtio' heads='1' primary='yes'/>"));
    assert!(xml.contains("<memballoon model='none'/>"));
    assert_eq!(d.devices().hostdevs().count(), 1);
    assert!(!xml.contains("0x046d"));
}

#[test]
fn device_additions() {
    let mut d = Domain::parse(
        "<domain type='qemu'>\n  <name>new</name>\n  <memory>1048576</memory>\n  <os>\n    <type>hvm</type>\n  </os>\n</domain>\n",
    )
    .unwrap();
    {
        let mut dev = d.devices_mut();
        dev.set_emulator(Some("/usr/bin/qemu-system-x86_64"));
        dev.add_graphics(&GraphicsSpec {
            graphics_type: "vnc".into(),
            port: None,
            listen: None,
            passwd: None,
        });
        dev.add_disk(&DiskSpec::file(
            "/var/lib/libvirt/images/new.qcow2",
            "qcow2",
            "vda",
            "virtio",
        ))
        .set_boot_order(Some(1));
        let mut cd = DiskSpec::cdrom(Some("/isos/install.iso"), "sda", "sata");
        cd.boot_order = Some(2);
        dev.add_disk(&cd);
        dev.add_interface(&InterfaceSpec {
            source: InterfaceSource::Network("default".into()),
            mac: None,
            model: Some("virtio".into()),
        });
        dev.add_controller(&ControllerSpec {
            controller_type: "usb".into(),
            index: None,
            model: Some("qemu-xhci".into()),
            ports: Some(15),
        });
        dev.add_input(&InputSpec {
            input_type: "tablet".into(),
            bus: Some("usb".into()),
        });
        dev.add_video(&VideoSpec {
            model: "virtio".into(),
            vram: None,
            heads: Some(1),
        });
        dev.add_sound(&SoundSpec {
            model: "ich9".into(),
        });
        dev.add_tpm(&TpmSpec::default());
        dev.add_hostdev(&HostdevSpec::Usb {
            vendor: 0x046d,
            product: 0xc52b,
        });
        dev.add_filesystem(&FilesystemSpec {
            source_dir: "/srv/share".into(),
            target: "share".into(),
            driver_type: Some("virtiofs".into()),
            readonly: false,
        });
        dev.add_channel(&ChannelSpec::guest_agent());
        dev.add_serial(&SerialSpec {
            serial_type: "pty".into(),
            target_port: None,
        });
        dev.add_rng(&RngSpec::default());
        dev.set_memballoon("virtio");
    }
    assert_eq!(
        d.to_xml(),
        "<domain type='qemu'>
  <name>new</name>
  <memory>1048576</memory>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/new.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/isos/install.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <boot order='2'/>
    </disk>
    <controller type='usb' model='qemu-xhci' ports='15'/>
    <filesystem type='mount' accessmode='passthrough'>
      <driver type='virtiofs'/>
      <source dir='/srv/share'/>
      <target dir='share'/>
    </filesystem>
    <interface type='network'>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'/>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <input type='tablet' bus='usb'/>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'/>
    </tpm>
    <graphics type='vnc' port='-1' autoport='yes'/>
    <sound model='ich9'/>
    <video>
      <model type='virtio' heads='1'/>
    </video>
    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source>
        <vendor id='0x046d'/>
        <product id='0xc52b'/>
      </source>
    </hostdev>
    <memballoon model='virtio'/>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
  </devices>
</domain>
"
    );
}

#[test]
fn vireo_metadata() {
    let orig = win11();
    let mut d = orig.clone();
    assert!(d.vireo_metadata().is_none());
    d.set_vireo_value("os-id", Some("http://microsoft.com/win/11"));
    d.set_vireo_value("imported-from", Some("VirtualBox"));
    assert_change(
        &orig,
        &d,
        &[],
        &[
            "    <vireo:vireo xmlns:vireo='https://vireo.dev/xmlns/vireo/1.0'>",
            "      <vireo:os-id>http://microsoft.com/win/11</vireo:os-id>",
            "      <vireo:imported-from>VirtualBox</vireo:imported-from>",
            "    </vireo:vireo>",
        ],
    );
    let d2 = Domain::parse(&d.to_xml()).unwrap();
    assert_eq!(
        d2.vireo_value("imported-from").as_deref(),
        Some("VirtualBox")
    );
    assert_eq!(d2.vireo_metadata().unwrap().namespace(), Some(VIREO_NS));
    d.set_vireo_value("os-id", None);
    d.set_vireo_value("imported-from", None);
    assert_eq!(d.to_xml(), WIN11);
    // a domain without <metadata> gets one at libvirt's place, and loses it again
    let plain = "<domain type=\"kvm\">\n  <name>a</name>\n  <uuid>u</uuid>\n  <memory>1024</memory>\n</domain>\n";
    let mut d = Domain::parse(plain).unwrap();
    d.vireo_metadata_mut()
        .ensure_child("vireo:note")
        .set_text("hi");
    assert_eq!(
        d.to_xml(),
        "<domain type=\"kvm\">\n  <name>a</name>\n  <uuid>u</uuid>\n  <metadata>\n    <vireo:vireo xmlns:vireo=\"https://vireo.dev/xmlns/vireo/1.0\">\n      <vireo:note>hi</vireo:note>\n    </vireo:vireo>\n  </metadata>\n  <memory>1024</memory>\n</domain>\n"
    );
    d.remove_vireo_metadata();
    assert_eq!(d.to_xml(), plain);
}

#[test]
fn qemu_namespace_survives_edits() {
    let mut d = win11();
    d.set_name("renamed");
    let cl = d.qemu_commandline().unwrap();
    assert_eq!(cl.namespace(), Some(QEMU_NS));
    assert!(d.to_xml().contains(
        "  <qemu:commandline>\n    <qemu:arg value='-no-hpet'/>\n  </qemu:commandline>\n"
    ));
}

#[test]
fn new_domain_and_errors() {
    let mut d = Domain::new("kvm", "fresh");
    d.set_memory_kib(2 * 1024 * 1024);
    d.set_vcpus(2);
    d.os_mut().set_os_type("hvm");
    d.os_mut().set_arch(Some("x86_64"));
    assert_eq!(
        d.to_xml(),
        "<domain type=\"kvm\">\n  <name>fresh</name>\n  <memory>2097152</memory>\n  <vcpu>2</vcpu>\n  <os>\n    <type arch=\"x86_64\">hvm</type>\n  </os>\n</domain>\n"
    );
    assert!(matches!(
        Domain::parse("<network/>"),
        Err(DomainError::Xml(XmlError::UnexpectedRoot { .. }))
    ));
    assert!(matches!(
        Domain::parse("<domain>"),
        Err(DomainError::Xml(XmlError::Malformed { line: 1, .. }))
    ));
    let bad = Domain::parse("<domain><memory unit='parsecs'>1</memory><vcpu>lots</vcpu></domain>")
        .unwrap();
    assert!(matches!(
        bad.memory_kib(),
        Err(DomainError::InvalidValue { .. })
    ));
    assert!(bad.vcpu().is_err());
    assert_eq!(roundtrip(WIN11).unwrap(), WIN11);
    assert!(roundtrip("<a><b></a>").is_err());
}

#[test]
fn domain_crosses_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Domain>();
    assert_send_sync::<vireo_core::xml::Document>();
}
