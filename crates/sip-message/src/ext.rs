//! [`MessageExt`]: the header accessors every layer needs, on rsip's message types.

use rsip::Header;
use rsip::headers::ToTypedHeader as _;
use rsip::headers::UntypedHeader as _;

use crate::parse::{expand_compact_name, guarded, parse_cseq};
use crate::syntax::{header_params, name_addr_params, param_value};

/// Accessors on [`rsip::Request`], [`rsip::Response`] and [`rsip::SipMessage`].
///
/// Every method returns `None` (or an empty list) when the header is absent or cannot be parsed,
/// and never panics.
pub trait MessageExt {
    /// Value of the first header called `name` (case-insensitive; compact forms such as `"v"`
    /// are accepted), whether rsip typed it or kept it as `Header::Other`.
    fn header_value(&self, name: &str) -> Option<&str>;
    /// Values of every header called `name`, in message order.
    fn header_values(&self, name: &str) -> Vec<&str>;
    /// The topmost Via, parsed by rsip.
    fn top_via(&self) -> Option<rsip::headers::typed::Via>;
    /// The `branch` parameter of the topmost Via.
    fn branch(&self) -> Option<String>;
    /// The Call-ID value.
    fn call_id(&self) -> Option<String>;
    /// The `tag` parameter of From.
    // "from" names the From header here, not a conversion.
    #[allow(clippy::wrong_self_convention)]
    fn from_tag(&self) -> Option<String>;
    /// The `tag` parameter of To.
    fn to_tag(&self) -> Option<String>;
    /// CSeq as sequence number and method.
    fn cseq(&self) -> Option<(u32, rsip::Method)>;
    /// The media type of Content-Type, lower-cased, without parameters (`"application/sdp"`).
    fn content_type(&self) -> Option<String>;
}

macro_rules! impl_message_ext {
    ($($ty:ty),*) => {$(
        impl MessageExt for $ty {
            fn header_value(&self, name: &str) -> Option<&str> {
                values(headers_of!(self), name).next()
            }
            fn header_values(&self, name: &str) -> Vec<&str> {
                values(headers_of!(self), name).collect()
            }
            fn top_via(&self) -> Option<rsip::headers::typed::Via> {
                top_via(headers_of!(self))
            }
            fn branch(&self) -> Option<String> {
                let via = values(headers_of!(self), "Via").next()?;
                param_value(header_params(via), "branch")
            }
            fn call_id(&self) -> Option<String> {
                let v = values(headers_of!(self), "Call-ID").next()?.trim();
                (!v.is_empty()).then(|| v.to_owned())
            }
            fn from_tag(&self) -> Option<String> {
                let v = values(headers_of!(self), "From").next()?;
                param_value(name_addr_params(v), "tag")
            }
            fn to_tag(&self) -> Option<String> {
                let v = values(headers_of!(self), "To").next()?;
                param_value(name_addr_params(v), "tag")
            }
            fn cseq(&self) -> Option<(u32, rsip::Method)> {
                parse_cseq(values(headers_of!(self), "CSeq").next()?)
            }
            fn content_type(&self) -> Option<String> {
                let v = values(headers_of!(self), "Content-Type").next()?;
                let media = v.split(';').next()?.trim();
                (!media.is_empty()).then(|| media.to_ascii_lowercase())
            }
        }
    )*};
}

macro_rules! headers_of {
    ($m:expr) => {
        rsip::message::HasHeaders::headers($m)
    };
}

impl_message_ext!(rsip::Request, rsip::Response, rsip::SipMessage);

/// Values of the headers called `name` (full or compact form, any case).
fn values<'a>(headers: &'a rsip::Headers, name: &str) -> impl Iterator<Item = &'a str> {
    let name = expand_compact_name(name).to_owned();
    headers
        .iter()
        .filter(move |h| is_header_named(h, &name))
        .map(|h| header_name_value(h).1)
}

fn top_via(headers: &rsip::Headers) -> Option<rsip::headers::typed::Via> {
    let via = headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v),
        _ => None,
    })?;
    guarded(|| via.typed()).ok()?.ok()
}

/// True when `header` is called `name` (case-insensitive, compact forms expanded on both sides).
pub(crate) fn is_header_named(header: &Header, name: &str) -> bool {
    let wanted = expand_compact_name(name);
    expand_compact_name(header_name_value(header).0).eq_ignore_ascii_case(wanted)
}

/// The canonical name and the value string of any rsip header.
pub(crate) fn header_name_value(h: &Header) -> (&str, &str) {
    match h {
        Header::Accept(v) => ("Accept", v.value()),
        Header::AcceptEncoding(v) => ("Accept-Encoding", v.value()),
        Header::AcceptLanguage(v) => ("Accept-Language", v.value()),
        Header::AlertInfo(v) => ("Alert-Info", v.value()),
        Header::Allow(v) => ("Allow", v.value()),
        Header::AuthenticationInfo(v) => ("Authentication-Info", v.value()),
        Header::Authorization(v) => ("Authorization", v.value()),
        Header::CSeq(v) => ("CSeq", v.value()),
        Header::CallId(v) => ("Call-ID", v.value()),
        Header::CallInfo(v) => ("Call-Info", v.value()),
        Header::Contact(v) => ("Contact", v.value()),
        Header::ContentDisposition(v) => ("Content-Disposition", v.value()),
        Header::ContentEncoding(v) => ("Content-Encoding", v.value()),
        Header::ContentLanguage(v) => ("Content-Language", v.value()),
        Header::ContentLength(v) => ("Content-Length", v.value()),
        Header::ContentType(v) => ("Content-Type", v.value()),
        Header::Date(v) => ("Date", v.value()),
        Header::ErrorInfo(v) => ("Error-Info", v.value()),
        Header::Event(v) => ("Event", v.value()),
        Header::Expires(v) => ("Expires", v.value()),
        Header::From(v) => ("From", v.value()),
        Header::InReplyTo(v) => ("In-Reply-To", v.value()),
        Header::MaxForwards(v) => ("Max-Forwards", v.value()),
        Header::MimeVersion(v) => ("MIME-Version", v.value()),
        Header::MinExpires(v) => ("Min-Expires", v.value()),
        Header::Organization(v) => ("Organization", v.value()),
        Header::Other(name, value) => (name.as_str(), value.as_str()),
        Header::Priority(v) => ("Priority", v.value()),
        Header::ProxyAuthenticate(v) => ("Proxy-Authenticate", v.value()),
        Header::ProxyAuthorization(v) => ("Proxy-Authorization", v.value()),
        Header::ProxyRequire(v) => ("Proxy-Require", v.value()),
        Header::RecordRoute(v) => ("Record-Route", v.value()),
        Header::ReplyTo(v) => ("Reply-To", v.value()),
        Header::Require(v) => ("Require", v.value()),
        Header::RetryAfter(v) => ("Retry-After", v.value()),
        Header::Route(v) => ("Route", v.value()),
        Header::Server(v) => ("Server", v.value()),
        Header::Subject(v) => ("Subject", v.value()),
        Header::SubscriptionState(v) => ("Subscription-State", v.value()),
        Header::Supported(v) => ("Supported", v.value()),
        Header::Timestamp(v) => ("Timestamp", v.value()),
        Header::To(v) => ("To", v.value()),
        Header::Unsupported(v) => ("Unsupported", v.value()),
        Header::UserAgent(v) => ("User-Agent", v.value()),
        Header::Via(v) => ("Via", v.value()),
        Header::Warning(v) => ("Warning", v.value()),
        Header::WwwAuthenticate(v) => ("WWW-Authenticate", v.value()),
    }
}
