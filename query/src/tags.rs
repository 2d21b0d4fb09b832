//! Varnish 7.1's VSL tag names by number (`include/tbl/vsl_tags.h`, as `VSL_tags[]` of
//! libvarnishapi 7.1 lists them), and the name and glob lookups of `VSL_Name2Tag` and
//! `VSL_Glob2Tags` over them. This is a fact table: the varnishlog crate checks at run time
//! that it equals the linked library's `VSL_tags[]`.

/// The tag names of Varnish 7.1, indexed by tag number; `None` for numbers without a tag
/// (0 is `SLT__Bogus`, 254 and 255 are reserved markers).
pub const TAG_NAMES: [Option<&str>; 256] = {
    let mut names: [Option<&str>; 256] = [None; 256];
    names[1] = Some("Debug");
    names[2] = Some("Error");
    names[3] = Some("CLI");
    names[4] = Some("SessOpen");
    names[5] = Some("SessClose");
    names[6] = Some("BackendOpen");
    names[7] = Some("BackendReuse");
    names[8] = Some("BackendClose");
    names[9] = Some("HttpGarbage");
    names[10] = Some("Proxy");
    names[11] = Some("ProxyGarbage");
    names[12] = Some("Backend");
    names[13] = Some("Length");
    names[14] = Some("FetchError");
    names[15] = Some("ReqMethod");
    names[16] = Some("ReqURL");
    names[17] = Some("ReqProtocol");
    names[18] = Some("ReqStatus");
    names[19] = Some("ReqReason");
    names[20] = Some("ReqHeader");
    names[21] = Some("ReqUnset");
    names[22] = Some("ReqLost");
    names[23] = Some("RespMethod");
    names[24] = Some("RespURL");
    names[25] = Some("RespProtocol");
    names[26] = Some("RespStatus");
    names[27] = Some("RespReason");
    names[28] = Some("RespHeader");
    names[29] = Some("RespUnset");
    names[30] = Some("RespLost");
    names[31] = Some("BereqMethod");
    names[32] = Some("BereqURL");
    names[33] = Some("BereqProtocol");
    names[34] = Some("BereqStatus");
    names[35] = Some("BereqReason");
    names[36] = Some("BereqHeader");
    names[37] = Some("BereqUnset");
    names[38] = Some("BereqLost");
    names[39] = Some("BerespMethod");
    names[40] = Some("BerespURL");
    names[41] = Some("BerespProtocol");
    names[42] = Some("BerespStatus");
    names[43] = Some("BerespReason");
    names[44] = Some("BerespHeader");
    names[45] = Some("BerespUnset");
    names[46] = Some("BerespLost");
    names[47] = Some("ObjMethod");
    names[48] = Some("ObjURL");
    names[49] = Some("ObjProtocol");
    names[50] = Some("ObjStatus");
    names[51] = Some("ObjReason");
    names[52] = Some("ObjHeader");
    names[53] = Some("ObjUnset");
    names[54] = Some("ObjLost");
    names[55] = Some("BogoHeader");
    names[56] = Some("LostHeader");
    names[57] = Some("TTL");
    names[58] = Some("Fetch_Body");
    names[59] = Some("VCL_acl");
    names[60] = Some("VCL_call");
    names[61] = Some("VCL_trace");
    names[62] = Some("VCL_return");
    names[63] = Some("ReqStart");
    names[64] = Some("Hit");
    names[65] = Some("HitPass");
    names[66] = Some("ExpBan");
    names[67] = Some("ExpKill");
    names[68] = Some("WorkThread");
    names[69] = Some("ESI_xmlerror");
    names[70] = Some("Hash");
    names[71] = Some("Backend_health");
    names[72] = Some("VCL_Log");
    names[73] = Some("VCL_Error");
    names[74] = Some("Gzip");
    names[75] = Some("Link");
    names[76] = Some("Begin");
    names[77] = Some("End");
    names[78] = Some("VSL");
    names[79] = Some("Storage");
    names[80] = Some("Timestamp");
    names[81] = Some("ReqAcct");
    names[82] = Some("PipeAcct");
    names[83] = Some("BereqAcct");
    names[84] = Some("VfpAcct");
    names[85] = Some("Witness");
    names[86] = Some("BackendStart");
    names[87] = Some("H2RxHdr");
    names[88] = Some("H2RxBody");
    names[89] = Some("H2TxHdr");
    names[90] = Some("H2TxBody");
    names[91] = Some("HitMiss");
    names[92] = Some("Filters");
    names[93] = Some("SessError");
    names[94] = Some("VCL_use");
    names[95] = Some("Notice");
    names[96] = Some("VdpAcct");
    names
};

/// A set of tag numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TagSet([u64; 4]);

impl TagSet {
    /// Adds `tag` to the set.
    pub(crate) fn insert(&mut self, tag: u8) {
        self.0[usize::from(tag >> 6)] |= 1 << (tag & 63);
    }

    /// Whether `tag` is in the set.
    pub(crate) fn contains(&self, tag: u8) -> bool {
        self.0[usize::from(tag >> 6)] & (1 << (tag & 63)) != 0
    }

    /// The tags in the set, in numeric order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|tag| self.contains(*tag))
    }
}

/// Why a tag name or glob selects no tag, as `VSL_Glob2Tags` distinguishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GlobError {
    /// No tag matches (also an empty name).
    NoMatch,
    /// A name without `*` is a prefix of several tags and the name of none.
    Ambiguous,
    /// More than one `*`.
    Syntax,
}

/// ASCII case-insensitive prefix test, as `strncasecmp(text, prefix, strlen(prefix)) == 0`.
fn starts_with_caseless(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `VSL_Name2Tag`: the tag named `name` (any case), or the one tag whose name starts with it.
/// An exact name wins over prefixes ("Backend" is a tag and a prefix of "BackendOpen").
pub(crate) fn name_to_tag(name: &[u8]) -> Result<u8, GlobError> {
    let mut found = Err(GlobError::NoMatch);
    for (number, tag) in TAG_NAMES.iter().enumerate() {
        let Some(tag) = tag else { continue };
        if !starts_with_caseless(tag.as_bytes(), name) {
            continue;
        }
        // TAG_NAMES has 256 entries, so the index fits in a u8.
        let number = number as u8;
        if tag.len() == name.len() {
            return Ok(number);
        }
        found = match found {
            Err(GlobError::NoMatch) => Ok(number),
            _ => Err(GlobError::Ambiguous),
        };
    }
    found
}

/// `VSL_Glob2Tags`: adds the tags `glob` names to `set`. Without `*` the glob is a name (or
/// unique prefix, see [`name_to_tag`]); with one `*`, every tag starting with the text before
/// it and ending with the text after it, in any case; `*` alone is every tag.
pub(crate) fn glob_to_tags(glob: &[u8], set: &mut TagSet) -> Result<(), GlobError> {
    if glob.is_empty() {
        return Err(GlobError::NoMatch);
    }
    let Some(star) = glob.iter().position(|&c| c == b'*') else {
        set.insert(name_to_tag(glob)?);
        return Ok(());
    };
    let (before, after) = (&glob[..star], &glob[star + 1..]);
    if after.contains(&b'*') {
        return Err(GlobError::Syntax);
    }
    let mut any = false;
    for (number, tag) in TAG_NAMES.iter().enumerate() {
        let Some(tag) = tag else { continue };
        let tag = tag.as_bytes();
        if tag.len() < before.len() + after.len() {
            continue;
        }
        let end = &tag[tag.len() - after.len()..];
        if starts_with_caseless(tag, before) && end.eq_ignore_ascii_case(after) {
            set.insert(number as u8);
            any = true;
        }
    }
    if any {
        Ok(())
    } else {
        Err(GlobError::NoMatch)
    }
}
