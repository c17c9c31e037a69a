//! Typed errors of the libvirt client.
//!
//! Every `virt::error::Error` is mapped here, once, so that callers can match on what happened
//! (the VM does not exist, the action is not possible in its state, the connection is gone)
//! instead of on libvirt's numeric codes. The `Display` text is meant for users; the GUI wraps
//! it with a translated title.

use virt::error::{Error as VirtError, ErrorDomain, ErrorNumber};

use super::types::DomainRef;

/// Why a request to libvirt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The connection to the host is lost (or was closed); Vireo reconnects by itself.
    #[error("The connection to the virtualization host was lost")]
    ConnectionLost,

    /// Opening the connection failed.
    #[error("Could not connect to {uri}: {message}")]
    Connect { uri: String, message: String },

    /// No virtual machine has this name or UUID.
    #[error("There is no virtual machine named or identified by “{0}”")]
    NoSuchDomain(String),

    /// libvirt rejected a domain description.
    #[error("The virtual machine description is not valid: {message}")]
    InvalidXml { message: String },

    /// The action is not possible in the current state (e.g. starting a running VM).
    #[error("{message}")]
    OperationInvalid { message: String },

    /// The host (driver, hypervisor or libvirt version) cannot do this.
    #[error("Not supported by this host: {what}")]
    Unsupported { what: String },

    /// Any other libvirt failure, with libvirt's numeric code and origin kept for reports.
    #[error("{message}")]
    Libvirt {
        code: i32,
        domain: i32,
        message: String,
    },
}

impl Error {
    /// Maps a libvirt error. `subject` is the domain the request was about, used for
    /// [`Error::NoSuchDomain`].
    pub(crate) fn from_virt(err: &VirtError, subject: Option<&DomainRef>) -> Self {
        let message = readable_message(err);
        let Some(code) = err.code().known() else {
            return Self::generic(err, message);
        };
        match code {
            ErrorNumber::NoDomain => Error::NoSuchDomain(
                subject.map_or_else(|| message.clone(), |r| r.as_str().to_owned()),
            ),
            ErrorNumber::XmlError
            | ErrorNumber::XmlDetail
            | ErrorNumber::XmlInvalidSchema
            | ErrorNumber::OsType
            | ErrorNumber::NoName
            | ErrorNumber::NoOs
            | ErrorNumber::NoDevice => Error::InvalidXml { message },
            ErrorNumber::OperationInvalid
            | ErrorNumber::DomExist
            | ErrorNumber::OperationDenied
            | ErrorNumber::ResourceBusy => Error::OperationInvalid { message },
            ErrorNumber::NoSupport
            | ErrorNumber::ArgumentUnsupported
            | ErrorNumber::OperationUnsupported
            | ErrorNumber::ConfigUnsupported => Error::Unsupported { what: message },
            ErrorNumber::NoConnect | ErrorNumber::InvalidConn => Error::ConnectionLost,
            _ => Self::generic(err, message),
        }
    }

    /// Maps a failure of `virConnectOpen`.
    pub(crate) fn connect(uri: &str, err: &VirtError) -> Self {
        Error::Connect {
            uri: uri.to_owned(),
            message: readable_message(err),
        }
    }

    fn generic(err: &VirtError, message: String) -> Self {
        Error::Libvirt {
            code: err.code().to_raw() as i32,
            domain: err.domain().to_raw() as i32,
            message,
        }
    }

    /// True for errors that mean "try again after the connection is back".
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Error::ConnectionLost)
    }
}

impl From<crate::virt_type::VirtTypeError> for Error {
    fn from(err: crate::virt_type::VirtTypeError) -> Self {
        match err {
            crate::virt_type::VirtTypeError::Parse { .. } => Error::Libvirt {
                code: 0,
                domain: 0,
                message: err.to_string(),
            },
            _ => Error::Unsupported {
                what: err.to_string(),
            },
        }
    }
}

/// libvirt's message, without the trailing noise some drivers add, never empty.
fn readable_message(err: &VirtError) -> String {
    let message = err.message().trim();
    if !message.is_empty() {
        return message.to_owned();
    }
    let origin = err
        .domain()
        .known()
        .filter(|d| *d != ErrorDomain::None)
        .map(|d| format!(" ({d:?})"))
        .unwrap_or_default();
    format!("libvirt reported an error without a message{origin}")
}
