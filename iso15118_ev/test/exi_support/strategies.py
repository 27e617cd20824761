"""Hypothesis strategies for schema-valid ISO 15118 / DIN 70121 messages in the jar's JSON.

The strategies are derived from the XSDs shipped in the `iso15118` package (read
through xmlschema from the installed package), not written per message.  They
produce Python objects ready for `json.dumps` in exactly the EclipseLink MOXy JSON
form the EXIficient jar (inside `iso15118`) takes and gives back, so that
`json.loads(jar.decode(jar.encode(doc, ns), ns)) == doc` (check_strategies.py).

API
  NAMESPACES                      the namespace strings the jar accepts
  message_names(ns)               message roots of ns (DIN/-2: Body members; -20: the
                                  V2GRequest/Response elements of that file, plus
                                  SignedInstallationData/SignedMeteringData for
                                  CommonMessages; AppProtocol: supportedAppProtocolReq/Res;
                                  xmldsig: SignedInfo)
  message(ns, name, jar_compatible=True)   full document strategy
  fragment_names(ns), fragment(ns, name)   roots the jar encodes in EXI fragment mode
  jar_unencodable(ns, name)       why the jar cannot encode a message at all (or None)
  fragment_round_trip(jar, doc, ns, name), xml_to_json(...)   fragment checking helpers

jar_compatible=True (default) generates only what the jar encodes and decodes back
unchanged; jar_compatible=False generates any schema-valid document (for the native
codec's own tests, including what the jar cannot do).

JSON conventions (MOXy, root included):
  * element -> key = local name (namespaces dropped); document = {root: {...}}.
  * attribute -> key = local name, next to the child elements (no '@' prefix), also
    for qualified attributes (-2 has attributeFormDefault="qualified"):
    {"ContractSignatureCertChain": {"Id": "id1", "Certificate": "AAEC"}},
    xmldsig: {"DigestMethod": {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"}}.
  * simple content with attributes -> the text under "value":
    {"eMAID": {"Id": "id4", "value": "DE1234567890AB"}},
    {"SignatureValue": {"Id": "s1", "value": "AAEC"}}.
  * an element with maxOccurs > 1 is always a JSON array (even of one item; the jar
    accepts a bare object on input but decodes to an array); maxOccurs == 1 -> bare
    object/scalar.  An empty array is dropped (decodes as absent; a required
    wrapper then becomes {}) -- the strategies never generate [].
  * mixed content or a repeated sequence/choice (xmldsig only: SignatureMethod,
    Transform, KeyInfo, KeyValue, X509Data, ...): every child is an array, even
    single ones: {"SignatureMethod": {"Algorithm": "...", "HMACOutputLength": [128]}},
    {"KeyInfo": {"KeyName": ["abc"]}}.
  * empty complex element -> {}  ({"SessionStopReq": {}} in DIN).
  * substitution groups: the member's own name is the key
    (DIN/-2 Body: {"CurrentDemandReq": {...}}, {"DC_EVSEStatus": {...}},
    {"SAScheduleList": {...}}, {"DC_EVChargeParameter": {...}}; -20:
    {"BPT_Scheduled_DC_CLReqControlMode": {...}}).
  * choice: only the chosen branch's keys are present.
  * hexBinary -> upper-case hex (lower case accepted, decodes upper case);
    base64Binary -> standard base64 with padding (invalid base64 such as "AAE"
    silently becomes "", embedded newlines are dropped); integers -> JSON numbers of
    any size (xs:integer beyond 64 bits is fine; facets are NOT checked: 70000 in an
    unsignedShort encodes); a JSON float (12.0) fails; a numeric string ("12") is
    accepted and decodes as a number; booleans true/false; enums by their literal
    (unknown literal -> encode error); unknown keys and null values are ignored.
  * DIN/-2: {"V2G_Message": {"Header": {...}, "Body": {<message>: {...}}}};
    -20: {<message element>: {"Header": {...}, ...}}, namespace = the file's
    namespace (a CommonMessages root under ":DC" fails: no such root element);
    AppProtocol: {"supportedAppProtocolReq": {...}}.
  * Signature in a DIN/-2/-20 Header: the plain xmldsig structure via JAXB, e.g.
    {"Signature": {"SignedInfo": {"CanonicalizationMethod": {"Algorithm": ...},
    "SignatureMethod": {"Algorithm": ...}, "Reference": [{"URI": "#id1",
    "Transforms": {"Transform": [{"Algorithm": ...}]}, "DigestMethod": {...},
    "DigestValue": "..."}]}, "SignatureValue": {"value": "..."}}}.

Fragment mode (AbstractEXICodec.UseFragmentMode; the JSON root key decides):
  * ns "http://www.w3.org/2000/09/xmldsig#", root "SignedInfo": hand-parsed, see
    signed_info_fragment(); the jar also decodes this namespace in fragment mode.
  * ns "urn:iso:15118:2:2013:MsgDef", roots AuthorizationReq, CertificateInstallationReq,
    MeteringReceiptReq (JSON unmarshalled like a Body member, element in the MsgBody
    namespace), and ContractSignatureCertChain, ContractSignatureEncryptedPrivateKey,
    DHpublickey, eMAID (MsgBody ns), SalesTariff (MsgDataTypes ns) via hand-written
    parsers.  ({"SignedInfo": ...} under this ns is also put in fragment mode, but as
    an unknown {MsgBody}SignedInfo element: schema-less bytes the jar cannot decode.)
  * ns "urn:iso:std:iso:15118:-20:CommonMessages", roots OEMProvisioningCertificateChain,
    PnC_AReqAuthorizationMode (hand-written parsers).
  The jar decodes non-xmldsig namespaces only in document mode; JarCodec.decode_fragment
  flips its EXIFactory to fragment mode for checking.

Normalisations / limits of the jar (the jar_compatible strategies respect them):
  * element text: "]]>" is written unescaped into the intermediate XML; the jar then
    returns a truncated stream without an error -> never generated ("]>>" instead).
  * attribute text: a tab becomes a space (XML attribute-value normalisation of the
    intermediate XML; \n and \r survive) -> no tabs in attribute values.
    Everything else survives: \t\n\r and leading/trailing/only white space in
    element text, C1 controls, U+2028, astral characters, "" (also empty hex/base64).
  * optional elements held in primitive JAXB fields are encoded as 0 when absent
    (ALWAYS_PRESENT): AppProtocol supportedAppProtocolRes/SchemaID, -2
    MeteringReceiptReq/SAScheduleTupleID, SalesTariff/NumEPriceLevels,
    SalesTariffEntry/EPriceLevel -> always generated.
  * DIN: any base64Binary value fails (MOXy's own base64 handling needs
    javax.mail.internet.MimeMultipart, absent from the jar; -2/-20 classes use the
    jar's Base64BinaryAdapter) -> no Signature in DIN headers, no certificates etc.;
    CertificateInstallationReq/Res, CertificateUpdateReq/Res, PaymentDetailsReq
    cannot be encoded at all (jar_unencodable).
  * DIN xs:IDREF attributes (SalesTariff/@Id, ContractAuthenticationReq/@Id,
    MeteringReceiptReq/@Id, ...) must resolve to an xs:ID in the same document
    (JAXB IDREF) -- nothing encodable in DIN carries one -> never generated; so no
    SalesTariff in DIN.
  * xmldsig content lists: base64Binary children (X509Certificate, X509SKI, X509CRL,
    PGPKeyID, ...) fail the same way -> left out; PGPData and SPKIData need one -> never.
  * ACDP and WPT: no JAXB context in the jar -> nothing encodable (jar_unencodable).
  * fragment SignedInfo (xmldsig): only Reference/URI and DigestValue are read; all
    algorithms are fixed, Ids/Type dropped; Reference must be an array.
  * fragment SalesTariff (-2): the parser reads Multiplier/amountMultiplier as base64
    strings and "amount" from "costKind" -> no ConsumptionCost generated.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import os
import string
from typing import Any

import xmlschema
from hypothesis import strategies as st
from xmlschema.validators import (
    XsdAnyElement,
    XsdComplexType,
    XsdElement,
    XsdGroup,
)

XSD = '{http://www.w3.org/2001/XMLSchema}'

NS_SAP = 'urn:iso:15118:2:2010:AppProtocol'
NS_DIN = 'urn:din:70121:2012:MsgDef'
NS_ISO2 = 'urn:iso:15118:2:2013:MsgDef'
NS_20_CM = 'urn:iso:std:iso:15118:-20:CommonMessages'
NS_20_DC = 'urn:iso:std:iso:15118:-20:DC'
NS_20_AC = 'urn:iso:std:iso:15118:-20:AC'
NS_20_ACDP = 'urn:iso:std:iso:15118:-20:ACDP'
NS_20_WPT = 'urn:iso:std:iso:15118:-20:WPT'
NS_XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#'

NAMESPACES = (NS_SAP, NS_DIN, NS_ISO2, NS_20_CM, NS_20_DC, NS_20_AC, NS_20_ACDP, NS_20_WPT,
              NS_XMLDSIG)

_SCHEMA_FILES = {
    NS_SAP: 'V2G_CI_AppProtocol.xsd',
    NS_DIN: 'din_spec/V2G_CI_MsgDef.xsd',
    NS_ISO2: 'iso15118_2/V2G_CI_MsgDef.xsd',
    NS_20_CM: 'iso15118_20/V2G_CI_CommonMessages.xsd',
    NS_20_DC: 'iso15118_20/V2G_CI_DC.xsd',
    NS_20_AC: 'iso15118_20/V2G_CI_AC.xsd',
    NS_20_ACDP: 'iso15118_20/V2G_CI_ACDP.xsd',
    NS_20_WPT: 'iso15118_20/V2G_CI_WPT.xsd',
    NS_XMLDSIG: 'xmldsig-core-schema.xsd',
}

# ---------------------------------------------------------------- tunables
UNBOUNDED_CAP = 6        # max items drawn for maxOccurs="unbounded"
SMALL_BOUND = 32         # bounds up to this are hit exactly fairly often
STRING_CAP = 48          # max length for strings without maxLength
BINARY_CAP = 48          # max octets for binaries without maxLength
BIG_INTEGER = 2 ** 80    # magnitude bound for unbounded xs:integer


def schema_dir() -> str:
    import iso15118.shared.schemas as schemas_pkg

    return list(schemas_pkg.__path__)[0]


@functools.lru_cache(maxsize=None)
def load_schema(namespace: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(os.path.join(schema_dir(), _SCHEMA_FILES[namespace]))


# ---------------------------------------------------------------- simple values
def _xml_char_ok(c: str) -> bool:
    o = ord(c)
    return (o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF)


# Characters for free text (XML 1.0 Chars only).  See the module docstring for what
# the jar changes.
_TEXT_CHARS = st.characters(
    codec='utf-8',
    exclude_categories=('Cs', 'Cc', 'Cn', 'Co'),
).filter(_xml_char_ok)
_TEXT_ALPHABET = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + ' -_.:/#'),
    st.sampled_from('\t\n\r \x7f\x85\x9f\u2028]]>&<"\'\ufffd'),
    st.sampled_from('äöüßéèçñ€µ°§ÆØÅ日本語中文한국어Ωπ∑😀🚗⚡'),
    _TEXT_CHARS,
)
_NAME_START = string.ascii_letters + '_'
_NAME_CHARS = string.ascii_letters + string.digits + '_.-'


def _sizes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """A length in [lo, hi], biased to both ends."""
    hi = max(lo, hi)
    return st.one_of(st.just(lo), st.integers(lo, hi), st.just(hi))


@st.composite
def _occurs(draw, lo: int, hi: int | None) -> int:
    """How many times a repeated element occurs: lo..hi, hitting hi when it is small."""
    if hi is None:
        return draw(st.integers(lo, max(lo, UNBOUNDED_CAP)))
    if hi <= SMALL_BOUND:
        pick = draw(st.integers(0, 9))
        if pick == 0:
            return hi
        if pick == 1:
            return lo
        return draw(st.integers(lo, hi))
    # large bound (e.g. 1024): hit it rarely, otherwise stay small
    pick = draw(st.integers(0, 39))
    if pick == 0:
        return hi
    if pick == 1:
        return lo
    return draw(st.integers(lo, min(hi, lo + UNBOUNDED_CAP)))


def _text(lo: int, hi: int | None, attribute: bool = False) -> st.SearchStrategy[str]:
    hi_eff = STRING_CAP if hi is None else hi
    norm = normalise_attribute_text if attribute else normalise_element_text

    @st.composite
    def gen(draw):
        n = draw(_sizes(lo, hi_eff))
        chars = draw(_n_items(_TEXT_ALPHABET, n))
        return norm(''.join(chars))
    return gen()


def _ncname(lo: int, hi: int | None) -> st.SearchStrategy[str]:
    lo = max(lo, 1)
    hi_eff = min(STRING_CAP, hi) if hi is not None else 16

    @st.composite
    def gen(draw):
        n = draw(_sizes(lo, hi_eff))
        first = draw(st.sampled_from(_NAME_START))
        rest = draw(st.text(alphabet=_NAME_CHARS, min_size=n - 1, max_size=n - 1))
        return first + rest
    return gen()


def _uri(lo: int, hi: int | None) -> st.SearchStrategy[str]:
    base = st.sampled_from([
        'http://www.w3.org/TR/canonical-exi/',
        'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
        'http://www.w3.org/2001/04/xmlenc#sha256',
        'urn:iso:15118:2:2013:MsgDef',
        '#ID1',
    ])
    gen = st.one_of(base, st.builds(lambda n: '#' + n, _ncname(1, 12)),
                    st.builds(lambda n: 'https://example.com/' + n, _ncname(1, 20)))
    if hi is not None or lo:
        gen = gen.filter(lambda s: lo <= len(s) <= (hi if hi is not None else 10 ** 9))
    return gen


CHEAP_ABOVE = 48  # lists/binaries/strings longer than this are built from a few drawn parts


def _n_items(val: st.SearchStrategy, n: int) -> st.SearchStrategy[list]:
    """Exactly n items of val.  Long lists cycle through up to 8 drawn items:
    hypothesis discards examples that need too many random choices, so 1024
    independently drawn entries would (silently) never be produced."""
    if n <= CHEAP_ABOVE:
        return st.lists(val, min_size=n, max_size=n)
    return st.lists(val, min_size=1, max_size=8).map(
        lambda items: [items[i % len(items)] for i in range(n)])


def _expand(seed: bytes, n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(4, 'big')).digest()
        counter += 1
    return bytes(out[:n])


def _binary(lo: int, hi: int | None) -> st.SearchStrategy[bytes]:
    hi_eff = BINARY_CAP if hi is None else hi

    @st.composite
    def gen(draw):
        n = draw(_sizes(lo, hi_eff))
        if n <= CHEAP_ABOVE:
            return draw(st.binary(min_size=n, max_size=n))
        return _expand(draw(st.binary(min_size=1, max_size=16)), n)
    return gen()


def _integers(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    lo = -BIG_INTEGER if lo is None else int(lo)
    hi = BIG_INTEGER if hi is None else int(hi)
    specials = sorted({v for v in (lo, hi, lo + 1, hi - 1, 0, 1, -1, 127, 128, 255, 256,
                                    2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 63 - 1, 2 ** 63)
                       if lo <= v <= hi})
    return st.one_of(st.sampled_from(specials), st.integers(lo, hi))


def normalise_element_text(s: str) -> str:
    """The form of an element's text the jar encodes faithfully.

    The jar marshals to XML text and re-parses it; MOXy writes "]]>" unescaped in
    element content, the parser then stops and the jar returns a truncated stream
    *without* an error (the decoder later fails with "Premature EOS").  So "]]>"
    is never generated in element text (it becomes "]>>", same length).
    Everything else (\\t, \\n, \\r, leading/trailing or only white space, C1
    controls, astral characters) survives.
    """
    while ']]>' in s:
        s = s.replace(']]>', ']>>')
    return s


def normalise_attribute_text(s: str) -> str:
    """The form of an attribute value the jar encodes faithfully.

    MOXy escapes \n and \r in attribute values but not \t, so the XML parser's
    attribute-value normalisation turns each \t into a space before EXI encoding
    (the jar's bytes carry ' ').  So attribute values never contain \t.
    """
    return s.replace('\t', ' ')


_INTEGER_NAMES = {'integer', 'long', 'int', 'short', 'byte', 'nonNegativeInteger',
                  'positiveInteger', 'nonPositiveInteger', 'negativeInteger', 'unsignedLong',
                  'unsignedInt', 'unsignedShort', 'unsignedByte'}


def _builtin_chain(t) -> list[str]:
    """Local names of the XSD builtin types t derives from, nearest first."""
    names = []
    while t is not None:
        name = getattr(t, 'name', None)
        if name and name.startswith(XSD):
            names.append(name[len(XSD):])
        t = getattr(t, 'base_type', None)
    return names


def simple_value(t, attribute: bool = False) -> st.SearchStrategy[Any]:
    """Strategy for a value of simple type t, already in its JSON form."""
    enum = getattr(t, 'enumeration', None)
    if enum:
        return st.sampled_from(list(enum))
    chain = _builtin_chain(t)
    if not chain:
        raise NotImplementedError(f'simple type without builtin base: {t!r}')
    lo_len = t.min_length or 0
    hi_len = t.max_length
    if 'boolean' in chain:
        return st.booleans()
    if any(n in _INTEGER_NAMES for n in chain):
        return _integers(t.min_value, t.max_value)
    if 'hexBinary' in chain:
        return _binary(lo_len, hi_len).map(lambda b: b.hex().upper())
    if 'base64Binary' in chain:
        return _binary(lo_len, hi_len).map(lambda b: base64.b64encode(b).decode('ascii'))
    if chain[0] in ('ID', 'IDREF', 'NCName', 'NMTOKEN', 'Name'):
        return _ncname(lo_len, hi_len)
    if 'anyURI' in chain:
        return _uri(lo_len, hi_len)
    if 'string' in chain:
        return _text(lo_len, hi_len, attribute)
    raise NotImplementedError(f'no strategy for simple type {t!r} ({chain})')


# ---------------------------------------------------------------- structure
Pairs = list  # list[tuple[str, Any]]


class _Generator:
    """Builds strategies from one schema (one per namespace and mode).

    jar_compatible=True leaves out what the jar cannot encode (see JAR_LIMITS):
    base64Binary values where MOXy handles them itself (all of DIN, and xmldsig
    content lists), PGPData/SPKIData, and it always generates the ALWAYS_PRESENT
    optional elements.  jar_compatible=False generates any schema-valid document.
    """

    def __init__(self, schema: xmlschema.XMLSchema, namespace: str, jar_compatible: bool,
                 omit: frozenset = frozenset()):
        self.schema = schema
        self.omit = omit  # {(owner type/element local name, element local name)} never generated
        self.namespace = namespace
        self.jar_compatible = jar_compatible
        self.forbid_base64 = jar_compatible and namespace in BASE64_UNENCODABLE_NAMESPACES
        self._types: dict[int, st.SearchStrategy] = {}
        self._requires: dict[int, bool] = {}

    # -- what the jar cannot encode
    def forbidden_simple(self, t) -> bool:
        chain = _builtin_chain(t)
        if self.jar_compatible and ('IDREF' in chain or 'IDREFS' in chain):
            # JAXB resolves an IDREF against the xs:ID values of the document and fails
            # ("An object of type java.lang.Object with ID x was not found") otherwise.
            # Only DIN has IDREFs, and there nothing the jar can encode carries an xs:ID.
            return True
        return self.forbid_base64 and 'base64Binary' in chain

    def requires_forbidden(self, t) -> bool:
        """True if every value of type t contains something forbidden."""
        key = id(t)
        if key in self._requires:
            return self._requires[key]
        self._requires[key] = False  # cycle guard
        if t.is_simple():
            res = self.forbidden_simple(t)
        else:
            res = any(a.use == 'required' and self.forbidden_simple(a.type)
                      for a in t.attributes.values())
            if t.has_simple_content():
                res = res or self.forbidden_simple(t.content)
            elif isinstance(t.content, XsdGroup):
                res = res or self._group_requires(t.content)
        self._requires[key] = res
        return res

    def _group_requires(self, g: XsdGroup) -> bool:
        if g.min_occurs == 0:
            return False
        reqs = [self._particle_requires(p) for p in g]
        if g.model == 'choice':
            return bool(reqs) and all(reqs)
        return any(reqs)

    def _particle_requires(self, p) -> bool:
        if isinstance(p, XsdGroup):
            return self._group_requires(p)
        if not isinstance(p, XsdElement) or p.min_occurs == 0:
            return False
        return all(self.requires_forbidden(m.type) for m in self._candidates(p))

    def element_ok(self, elem: XsdElement) -> bool:
        if self.jar_compatible and elem.local_name in UNENCODABLE_ELEMENTS.get(self.namespace, ()):
            return False
        return not self.requires_forbidden(elem.type)

    # -- elements
    def members(self, elem: XsdElement) -> list[XsdElement]:
        """Concrete elements that may stand where the global element `elem` is referenced."""
        out = []
        if not elem.abstract and not getattr(elem.type, 'abstract', False):
            out.append(elem)
        for sub in elem.iter_substitutes():
            if not sub.abstract and not getattr(sub.type, 'abstract', False):
                out.append(sub)
        return out

    def _candidates(self, particle: XsdElement) -> list[XsdElement]:
        if particle.ref is not None:
            return self.members(particle.ref)
        if particle.parent is None:  # a global element
            return self.members(particle)
        return [particle]

    def element_value(self, elem: XsdElement) -> st.SearchStrategy[Any]:
        return self.type_value(elem.type)

    def particle_pairs(self, particle) -> st.SearchStrategy[Pairs]:
        """Strategy for the (key, value) pairs one particle contributes to its parent."""
        if isinstance(particle, XsdAnyElement):
            return st.just([])
        if isinstance(particle, XsdGroup):
            return self.group_pairs(particle)
        assert isinstance(particle, XsdElement), particle
        lo, hi = particle.min_occurs, particle.max_occurs
        if (lo == 0 and self.jar_compatible
                and (self.namespace, _owner_name(particle), particle.local_name)
                in ALWAYS_PRESENT):
            lo = 1
        cands = [m for m in self._candidates(particle) if self.element_ok(m)]
        if lo == 0 and (_owner_name(particle), particle.local_name) in self.omit:
            cands = []
        if not cands:
            if lo == 0:
                return st.just([])
            raise NotImplementedError(f'no encodable member for {particle!r}')
        repeated = hi is None or hi > 1

        def one(member: XsdElement):
            name = member.local_name
            val = self.element_value(member)
            if repeated:
                return _occurs(lo, hi).flatmap(lambda n: _n_items(val, n)).map(
                    lambda vs: [(name, vs)] if vs else [])
            if lo == 0:
                return st.one_of(st.just([]), val.map(lambda v: [(name, v)]))
            return val.map(lambda v: [(name, v)])
        return st.one_of(*[one(m) for m in cands])

    def _list_content_pairs(self, group: XsdGroup) -> st.SearchStrategy[Pairs]:
        """Content of a mixed type or one with a repeated sequence/choice (xmldsig only).

        The jar's JAXB classes hold such content as one generic list; MOXy writes
        every child element there as a JSON array under its name (even a single
        HMACOutputLength: {"HMACOutputLength": [128]}).  Text content of mixed types
        and wildcard (xs:any) children are never generated.  In jar_compatible mode
        base64Binary children are left out: the jar fails on them inside such lists
        (MOXy needs javax.mail.internet.MimeMultipart, absent from the jar).
        """
        if not _has_repeated_group(group):
            # Mixed content without repeated groups keeps its model (one branch of a choice,
            # counts within bounds): generate it as usual, then make every child an array.
            def as_lists(pairs):
                return [(k, v if isinstance(v, list) else [v]) for k, v in pairs]
            pairs = self.group_pairs(group).map(as_lists)
            # wildcard branches generate nothing, so an empty result means an invalid choice
            return pairs if group.is_emptiable() else pairs.filter(bool)
        found: dict[str, tuple] = {}

        def walk(g: XsdGroup, repeated: bool):
            rep = repeated or g.max_occurs is None or g.max_occurs > 1
            for p in g:
                if isinstance(p, XsdGroup):
                    walk(p, rep)
                elif isinstance(p, XsdElement):
                    for m in self._candidates(p):
                        if not self.element_ok(m):
                            continue
                        if (self.jar_compatible and m.type.is_simple()
                                and 'base64Binary' in _builtin_chain(m.type)):
                            continue
                        many = rep or p.max_occurs is None or p.max_occurs > 1
                        found.setdefault(m.local_name, (m, many))
        walk(group, False)
        parts = []
        for name, (m, many) in found.items():
            val = self.element_value(m)
            hi = 3 if many else 1
            parts.append(st.lists(val, min_size=0, max_size=hi).map(
                lambda vs, n=name: [(n, vs)] if vs else []))
        body = st.tuples(*parts).map(lambda ps: [kv for p in ps for kv in p])
        if group.min_occurs > 0 and not group.is_emptiable() and parts:
            body = body.filter(bool)
        return body

    def group_pairs(self, group: XsdGroup) -> st.SearchStrategy[Pairs]:
        lo = group.min_occurs
        if group.model == 'choice':
            branches = [self.particle_pairs(p) for p in group if not self._particle_requires(p)]
            body = st.one_of(*branches) if branches else st.just([])
        else:  # sequence / all
            parts = [self.particle_pairs(p) for p in group]
            body = st.tuples(*parts).map(lambda ps: [kv for p in ps for kv in p])
        if lo == 0:
            return st.one_of(st.just([]), body)
        return body

    # -- types
    def type_value(self, t) -> st.SearchStrategy[Any]:
        key = id(t)
        if key in self._types:
            return self._types[key]
        if t.is_simple():
            strat = simple_value(t)
            self._types[key] = strat
            return strat
        # complex: recursion guard via deferred
        self._types[key] = st.deferred(lambda: self._types[key])
        strat = self._complex_value(t)
        self._types[key] = strat
        return strat

    def _attr_pairs(self, t: XsdComplexType) -> st.SearchStrategy[Pairs]:
        parts = []
        for attr in t.attributes.values():
            if getattr(attr, 'use', 'optional') == 'prohibited':
                continue
            if attr.use != 'required' and self.forbidden_simple(attr.type):
                continue
            name = attr.local_name
            val = simple_value(attr.type, attribute=True).map(lambda v, n=name: [(n, v)])
            if attr.use == 'required':
                parts.append(val)
            else:
                parts.append(st.one_of(st.just([]), val))
        return st.tuples(*parts).map(lambda ps: [kv for p in ps for kv in p])

    def _complex_value(self, t: XsdComplexType) -> st.SearchStrategy[Any]:
        attrs = self._attr_pairs(t)
        if t.has_simple_content():
            content = simple_value(t.content).map(lambda v: [('value', v)])
        elif isinstance(t.content, XsdGroup):
            if t.mixed or _has_repeated_group(t.content):
                content = self._list_content_pairs(t.content)
            else:
                content = self.group_pairs(t.content)
        else:
            content = st.just([])
        return st.tuples(attrs, content).map(lambda ac: _to_dict(ac[0] + ac[1]))


def _owner_name(particle) -> str | None:
    """Local name of the complex type (or, if anonymous, element) holding particle."""
    node = particle.parent
    while node is not None:
        if isinstance(node, XsdComplexType):
            if node.name:
                return node.local_name
        elif isinstance(node, XsdElement):
            return node.local_name
        node = node.parent
    return None


def _has_repeated_group(group: XsdGroup) -> bool:
    if group.max_occurs is None or group.max_occurs > 1:
        return True
    return any(isinstance(p, XsdGroup) and _has_repeated_group(p) for p in group)


# Elements the jar cannot encode at all (xmldsig): PGPData and SPKIData need a
# base64Binary child inside a generic JAXB content list, where MOXy fails with
# NoClassDefFoundError javax/mail/internet/MimeMultipart.
UNENCODABLE_ELEMENTS = {ns: {'PGPData', 'SPKIData'} for ns in NAMESPACES}

# Namespaces whose JAXB classes leave base64Binary to MOXy itself, which fails
# (NoClassDefFoundError javax/mail/internet/MimeMultipart): DIN 70121.  The -2 and
# -20 classes use the jar's own Base64BinaryAdapter and encode base64 fine.
BASE64_UNENCODABLE_NAMESPACES = {NS_DIN}

# Optional elements the jar's JAXB classes hold in primitive fields: absent on input,
# the jar still encodes them (as 0) and decodes them back.  So they are always generated.
ALWAYS_PRESENT = {
    (NS_SAP, 'supportedAppProtocolRes', 'SchemaID'),
    (NS_ISO2, 'MeteringReceiptReqType', 'SAScheduleTupleID'),
    (NS_ISO2, 'SalesTariffEntryType', 'EPriceLevel'),
    (NS_ISO2, 'SalesTariffType', 'NumEPriceLevels'),
}


def _to_dict(pairs: Pairs) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f'duplicate JSON key {k!r}')
        out[k] = v
    return out


@functools.lru_cache(maxsize=None)
def _generator(namespace: str, jar_compatible: bool = True) -> _Generator:
    return _Generator(load_schema(namespace), namespace, jar_compatible)


# ---------------------------------------------------------------- messages
def _derives_from(t, local_names: set[str]) -> bool:
    while t is not None:
        name = getattr(t, 'name', None)
        if name and name.rsplit('}', 1)[-1] in local_names:
            return True
        t = getattr(t, 'base_type', None)
    return False


def _global(schema, local: str, ns: str | None = None) -> XsdElement:
    for qn, e in schema.maps.elements.items():
        if qn.rsplit('}', 1)[-1] == local and (ns is None or qn.startswith('{' + ns + '}')):
            return e
    raise KeyError(local)


def _body_head(schema) -> XsdElement:
    return _global(schema, 'BodyElement')


@functools.lru_cache(maxsize=None)
def message_names(namespace: str) -> list[str]:
    """Every message type of `namespace` the jar encodes as a whole document."""
    schema = load_schema(namespace)
    gen = _generator(namespace)
    if namespace == NS_SAP:
        return sorted(schema.elements)
    if namespace in (NS_DIN, NS_ISO2):
        return sorted(m.local_name for m in gen.members(_body_head(schema)))
    if namespace == NS_XMLDSIG:
        return ['SignedInfo']
    names = sorted(name for name, e in schema.elements.items()
                   if _derives_from(e.type, {'V2GRequestType', 'V2GResponseType'}))
    if namespace == NS_20_CM:
        # not messages, but the -20 signed-data roots; the jar encodes them as documents
        names += SIGNED_DATA_ROOTS_20
    return names


SIGNED_DATA_ROOTS_20 = ['SignedInstallationData', 'SignedMeteringData']


def message(namespace: str, name: str, *, jar_compatible: bool = True) -> st.SearchStrategy[dict]:
    """Strategy for the full JSON document of message `name` in `namespace`.

    jar_compatible=True (default): only documents the jar encodes and decodes back
    unchanged; raises JarLimitation for messages it cannot encode at all
    (see jar_unencodable).  jar_compatible=False: any schema-valid document.
    """
    if name not in message_names(namespace):
        raise KeyError(f'{name} is not a message of {namespace}')
    if jar_compatible:
        reason = jar_unencodable(namespace, name)
        if reason:
            raise JarLimitation(f'{namespace} {name}: {reason}')
    return _message(namespace, name, jar_compatible)


class JarLimitation(Exception):
    """The jar cannot encode this message (so there is nothing to compare against)."""


_NO_JAXB_CONTEXT = ('the jar has no JAXB context for this namespace (EXICodec.setJAXBContext '
                    'only knows AppProtocol, DIN, -2, -20 CommonMessages/DC/AC): every encode '
                    'fails with "A descriptor with default root element ... was not found"')


def jar_unencodable(namespace: str, name: str) -> str | None:
    """Why the jar cannot encode message `name` of `namespace` at all, or None."""
    if namespace in (NS_20_ACDP, NS_20_WPT):
        return _NO_JAXB_CONTEXT
    if namespace in BASE64_UNENCODABLE_NAMESPACES:
        gen = _generator(namespace, True)
        schema = load_schema(namespace)
        member = [m for m in gen.members(_body_head(schema)) if m.local_name == name][0]
        if gen.requires_forbidden(member.type):
            return ('needs a base64Binary value, which the jar cannot encode in this namespace '
                    '(NoClassDefFoundError javax/mail/internet/MimeMultipart)')
    return None


@functools.lru_cache(maxsize=None)
def _message(namespace: str, name: str, jar_compatible: bool) -> st.SearchStrategy[dict]:
    schema = load_schema(namespace)
    gen = _generator(namespace, jar_compatible)
    if namespace in (NS_DIN, NS_ISO2):
        root = schema.elements['V2G_Message']
        header = root.type.content[0]
        member = [m for m in gen.members(_body_head(schema)) if m.local_name == name][0]
        return st.tuples(gen.element_value(header), gen.element_value(member)).map(
            lambda hb: {'V2G_Message': {'Header': hb[0], 'Body': {name: hb[1]}}})
    if namespace == NS_XMLDSIG:
        return signed_info_fragment()
    elem = schema.elements[name]
    return gen.element_value(elem).map(lambda v: {name: v})


XMLDSIG_C14N = 'http://www.w3.org/TR/canonical-exi/'
XMLDSIG_ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'
XMLDSIG_SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256'


def signed_info_fragment() -> st.SearchStrategy[dict]:
    """SignedInfo as the jar encodes it for namespace xmldsig (EXI fragment mode).

    The jar does not unmarshal this JSON: SecurityPayloads.GetSignedInfo reads only
    SignedInfo.Reference[*].URI (required) and .DigestValue (base64) and builds a
    SignedInfo with fixed algorithms (CanonicalizationMethod and the single Transform
    canonical-exi, SignatureMethod ecdsa-sha256, DigestMethod sha256), no Id
    attributes, no Type.  Reference must be a JSON array.  So this strategy
    generates exactly that shape (which is also what the jar decodes it to).
    """
    uri = _uri(0, None)
    ref = st.builds(
        lambda u, d: {'URI': u,
                      'Transforms': {'Transform': [{'Algorithm': XMLDSIG_C14N}]},
                      'DigestMethod': {'Algorithm': XMLDSIG_SHA256},
                      'DigestValue': base64.b64encode(d).decode('ascii')},
        uri, st.one_of(st.binary(min_size=32, max_size=32), _binary(0, 64)))
    return _occurs(1, None).flatmap(lambda n: st.lists(ref, min_size=n, max_size=n)).map(
        lambda refs: {'SignedInfo': {
            'CanonicalizationMethod': {'Algorithm': XMLDSIG_C14N},
            'SignatureMethod': {'Algorithm': XMLDSIG_ECDSA_SHA256},
            'Reference': refs}})


# ---------------------------------------------------------------- fragments
# Roots the jar encodes in EXI fragment mode (AbstractEXICodec.encode_json /
# UseFragmentMode), by the namespace string passed to encode; the JSON root key
# selects the path.  'json' = the JSON is unmarshalled by JAXB like a message
# body; 'hand' = a hand-written parser (SecurityPayloads) reads selected keys.
# value: (kind, schema type local name or None for a Body member, element QName
# namespace the jar gives the root).
FRAGMENTS = {
    NS_ISO2: {
        'AuthorizationReq': ('json', None, 'urn:iso:15118:2:2013:MsgBody'),
        'CertificateInstallationReq': ('json', None, 'urn:iso:15118:2:2013:MsgBody'),
        'MeteringReceiptReq': ('json', None, 'urn:iso:15118:2:2013:MsgBody'),
        'ContractSignatureCertChain': ('hand', 'CertificateChainType',
                                       'urn:iso:15118:2:2013:MsgBody'),
        'ContractSignatureEncryptedPrivateKey': (
            'hand', 'ContractSignatureEncryptedPrivateKeyType', 'urn:iso:15118:2:2013:MsgBody'),
        'DHpublickey': ('hand', 'DiffieHellmanPublickeyType', 'urn:iso:15118:2:2013:MsgBody'),
        'eMAID': ('hand', 'EMAIDType', 'urn:iso:15118:2:2013:MsgBody'),
        'SalesTariff': ('hand', 'SalesTariffType', 'urn:iso:15118:2:2013:MsgDataTypes'),
    },
    NS_20_CM: {
        'OEMProvisioningCertificateChain': ('hand', 'SignedCertificateChainType', NS_20_CM),
        'PnC_AReqAuthorizationMode': ('hand', 'PnC_AReqAuthorizationModeType', NS_20_CM),
    },
}

# What the hand-written parsers cannot carry: the SalesTariff parser reads
# ConsumptionCost/startValue/Multiplier and Cost/amountMultiplier with
# getString + base64-decoding, and Cost/amount from the key "costKind" -- a
# ConsumptionCost cannot be encoded faithfully, so it is never generated there.
_FRAGMENT_OMIT = {
    (NS_ISO2, 'SalesTariff'): frozenset({('SalesTariffEntryType', 'ConsumptionCost')}),
}


def fragment_names(namespace: str) -> list[str]:
    """Roots the jar encodes in EXI fragment mode for `namespace` (see FRAGMENTS).

    xmldsig's only root (SignedInfo) is listed by message_names: the jar both
    encodes and decodes that namespace in fragment mode.
    """
    return sorted(FRAGMENTS.get(namespace, {}))


def _type_by_name(schema, local: str):
    for qn, t in schema.maps.types.items():
        if qn.rsplit('}', 1)[-1] == local:
            return t
    raise KeyError(local)


def fragment_type(namespace: str, name: str):
    """The schema type of fragment root `name`."""
    kind, type_name, _ = FRAGMENTS[namespace][name]
    schema = load_schema(namespace)
    if type_name is None:
        return _global(schema, name).type
    return _type_by_name(schema, type_name)


def fragment(namespace: str, name: str, *, jar_compatible: bool = True) -> st.SearchStrategy[dict]:
    """Strategy for the JSON {name: {...}} the jar encodes as an EXI fragment."""
    if name not in FRAGMENTS.get(namespace, {}):
        raise KeyError(f'{name} is not a fragment root of {namespace}')
    return _fragment(namespace, name, jar_compatible)


@functools.lru_cache(maxsize=None)
def _fragment(namespace: str, name: str, jar_compatible: bool) -> st.SearchStrategy[dict]:
    omit = _FRAGMENT_OMIT.get((namespace, name), frozenset()) if jar_compatible else frozenset()
    gen = _Generator(load_schema(namespace), namespace, jar_compatible, omit)
    return gen.type_value(fragment_type(namespace, name)).map(lambda v: {name: v})


def fragment_round_trip(jar, doc, namespace: str, name: str) -> str:
    """'' if the jar encodes fragment doc and decodes it back (in fragment mode) unchanged."""
    import json

    try:
        data = jar.encode(json.dumps(doc), namespace)
    except Exception as exc:  # JarError
        return f'encode failed: {exc}'
    try:
        kind, text = jar.decode_fragment(data, namespace)
    except Exception as exc:
        return f'decode failed: {exc}'
    if kind == 'json':
        back = json.loads(text)
    else:
        back = xml_to_json(text, namespace, fragment_type(namespace, name))
    if back != doc:
        return f'mismatch: decoded {json.dumps(back)[:400]}'
    return ''


# ---------------------------------------------------------------- XML -> jar JSON
def _typed(t, text: str | None):
    text = text or ''
    chain = _builtin_chain(t)
    if 'boolean' in chain:
        return text.strip() in ('true', '1')
    if any(n in _INTEGER_NAMES for n in chain):
        return int(text.strip())
    return text


def _child_decls(gen: _Generator, group: XsdGroup, out: dict, repeated: bool = False):
    rep = repeated or group.max_occurs is None or group.max_occurs > 1
    for p in group:
        if isinstance(p, XsdGroup):
            _child_decls(gen, p, out, rep)
        elif isinstance(p, XsdElement):
            many = rep or p.max_occurs is None or p.max_occurs > 1
            for m in gen._candidates(p):
                out.setdefault(m.local_name, (m, many))


def xml_to_json(xml_text: str, namespace: str, root_type) -> dict:
    """The jar's JSON for an XML document whose root has schema type root_type.

    For fragment roots the jar's JAXB classes cannot unmarshal (see
    JarCodec.decode_fragment): same conventions as the jar's JSON (attributes and
    children by local name, simple content under "value", arrays for repeated
    elements and for children of mixed/repeated-group content, typed numbers and
    booleans).
    """
    import xml.etree.ElementTree as ET

    gen = _generator(namespace, False)
    root = ET.fromstring(xml_text.encode('utf-8'))

    def local(tag: str) -> str:
        return tag.rsplit('}', 1)[-1]

    def convert(node, t):
        if t.is_simple():
            return _typed(t, node.text)
        out: dict = {}
        for aname, aval in node.attrib.items():
            ln = local(aname)
            decl = next((a for a in t.attributes.values() if a.local_name == ln), None)
            if decl is not None:
                out[ln] = _typed(decl.type, aval)
        if t.has_simple_content():
            out['value'] = _typed(t.content, node.text)
            return out
        if not isinstance(t.content, XsdGroup):
            return out
        decls: dict = {}
        _child_decls(gen, t.content, decls)
        listy = t.mixed or _has_repeated_group(t.content)
        for child in node:
            ln = local(child.tag)
            decl, many = decls[ln]
            val = convert(child, decl.type)
            if many or listy:
                out.setdefault(ln, []).append(val)
            else:
                out[ln] = val
        return out

    return {local(root.tag): convert(root, root_type)}
