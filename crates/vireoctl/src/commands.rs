//! One function per subcommand, each a thin layer over vireo-core.

use std::io::Read;
use std::path::Path;

use vireo_core::libvirt::{
    Client, ClientOptions, DomainRef, UndefineOptions, XmlFlags, default_uri,
};

use crate::Failure;
use crate::cli::{Cli, Command, XmlCommand};
use crate::output;

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let uri = cli.connect.clone().unwrap_or_else(default_uri);
    match cli.command {
        // Needs no connection.
        Command::Xml {
            command: XmlCommand::Roundtrip { file },
        } => xml_roundtrip(&file),
        command => {
            let client = connect(&uri, matches!(command, Command::Watch { .. })).await?;
            run_on(&client, cli.virt_type, command).await
        }
    }
}

async fn connect(uri: &str, long_lived: bool) -> Result<Client, Failure> {
    let options = ClientOptions {
        // A one-shot command has nothing to resync; `watch` keeps the default safety net.
        resync_interval: if long_lived {
            ClientOptions::default().resync_interval
        } else {
            None
        },
        ..ClientOptions::default()
    };
    Ok(Client::connect(uri, options).await?)
}

async fn run_on(
    client: &Client,
    virt_type: vireo_core::virt_type::VirtType,
    command: Command,
) -> Result<(), Failure> {
    match command {
        Command::List { json } => {
            let mut domains = client.list_domains().await?;
            domains.sort_by(|a, b| a.name.cmp(&b.name));
            output::print_domains(&domains, json)
        }
        Command::Start { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            if domain.has_managed_save {
                client.restore(&domain).await?;
                println!("Restored {} from its saved state", domain.name);
            } else {
                client.start(&domain).await?;
                println!("Started {}", domain.name);
            }
            Ok(())
        }
        Command::Shutdown { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            client.shutdown(&domain).await?;
            println!("Asked {} to shut down", domain.name);
            Ok(())
        }
        Command::Reboot { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            client.reboot(&domain).await?;
            println!("Asked {} to reboot", domain.name);
            Ok(())
        }
        Command::Destroy { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            client.destroy(&domain).await?;
            println!("Forced {} off", domain.name);
            Ok(())
        }
        Command::Suspend { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            client.suspend(&domain).await?;
            println!("Paused {}", domain.name);
            Ok(())
        }
        Command::Resume { vm } => {
            let domain = client.lookup(vm.as_str()).await?;
            client.resume(&domain).await?;
            println!("Resumed {}", domain.name);
            Ok(())
        }
        Command::Save { vm, file } => {
            let domain = client.lookup(vm.as_str()).await?;
            match file {
                Some(path) => {
                    if path.exists() {
                        return Err(Failure::Refused(format!(
                            "{} already exists; choose another file",
                            path.display()
                        )));
                    }
                    client.save_to_file(&domain, path.clone()).await?;
                    println!("Saved {} to {}", domain.name, path.display());
                }
                None => {
                    client.managed_save(&domain).await?;
                    println!("Saved {}; `vireoctl start` restores it", domain.name);
                }
            }
            Ok(())
        }
        Command::Restore { vm, file } => {
            let domain = match (vm, file) {
                (_, Some(path)) => client.restore_from_file(path).await?,
                (Some(vm), None) => {
                    let domain = client.lookup(vm.as_str()).await?;
                    if !domain.has_managed_save {
                        return Err(Failure::Failed(format!(
                            "{} has no saved state to restore",
                            domain.name
                        )));
                    }
                    client.restore(&domain).await?
                }
                (None, None) => {
                    return Err(Failure::Usage("name a VM or a state file (--file)".into()));
                }
            };
            println!("Restored {}", domain.name);
            Ok(())
        }
        Command::Undefine { vm, remove_storage } => {
            undefine(client, DomainRef::new(vm), remove_storage).await
        }
        Command::Dumpxml {
            vm,
            inactive,
            security_info,
        } => {
            let flags = XmlFlags {
                inactive,
                secure: security_info,
            };
            let xml = client.domain_xml(vm.as_str(), flags).await?;
            print!("{xml}");
            if !xml.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::Watch { json } => watch(client, json).await,
        Command::Caps { json } => caps(client, virt_type, json).await,
        Command::Xml { .. } => Err(Failure::Usage("xml commands need no connection".into())),
    }
}

async fn undefine(client: &Client, vm: DomainRef, remove_storage: bool) -> Result<(), Failure> {
    let domain = client.lookup(vm).await?;
    if domain.state.is_active() {
        return Err(Failure::Refused(format!(
            "{} is {}; shut it down or force it off before removing it",
            domain.name, domain.state
        )));
    }
    if domain.has_managed_save {
        return Err(Failure::Refused(format!(
            "{} has a saved state that would be lost; start it and shut it down first",
            domain.name
        )));
    }
    let options = UndefineOptions {
        remove_storage,
        nvram: true,
        managed_save: false,
    };
    let report = client.undefine(&domain, options).await?;
    println!("Removed {}", domain.name);
    for path in &report.removed {
        println!("Deleted {}", path.display());
    }
    for kept in &report.not_removed {
        eprintln!("Kept {}: {}", kept.path.display(), kept.reason);
    }
    if report.not_removed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed("some disks could not be deleted".into()))
    }
}

async fn watch(client: &Client, json: bool) -> Result<(), Failure> {
    let mut events = client.subscribe();
    if !json {
        eprintln!("Watching {} (Ctrl+C to stop)", client.uri());
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => output::print_event(&event, json)?,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    eprintln!("vireoctl: {missed} events were missed");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    return Err(Failure::Failed("the connection was closed".into()));
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn caps(
    client: &Client,
    virt_type: vireo_core::virt_type::VirtType,
    json: bool,
) -> Result<(), Failure> {
    let resolved = client.resolve_virt_type(virt_type, None).await?;
    let domcaps = client
        .domain_capabilities(Some(virt_type), None, None)
        .await?;
    let cpu = vireo_core::virt_type::default_cpu_mode(&domcaps)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let hostname = client.hostname().await?;
    output::print_caps(&hostname, virt_type, resolved, &cpu, json)
}

fn xml_roundtrip(file: &Path) -> Result<(), Failure> {
    let input = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Failed(format!("cannot read standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::Failed(format!("cannot read {}: {e}", file.display())))?
    };
    let output = vireo_core::domain::roundtrip(&input)
        .map_err(|e| Failure::Failed(format!("{}: {e}", file.display())))?;
    print!("{output}");
    Ok(())
}
