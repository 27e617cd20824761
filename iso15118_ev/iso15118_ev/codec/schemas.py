"""What shapes each namespace's grammars: its XSD (a path in the ``iso15118`` package's schema
folder, read only by ``generate``), its fragment roots and where EXIficient loops over repeats.
"""
from .namespaces import (APP_PROTOCOL, DIN, ISO2, ISO20_AC, ISO20_ACDP, ISO20_COMMON,  # noqa: F401
                         ISO20_DC, ISO20_WPT, XMLDSIG)

SCHEMA_FILES = {
    APP_PROTOCOL: 'V2G_CI_AppProtocol.xsd',
    DIN: 'din_spec/V2G_CI_MsgDef.xsd',
    ISO2: 'iso15118_2/V2G_CI_MsgDef.xsd',
    ISO20_COMMON: 'iso15118_20/V2G_CI_CommonMessages.xsd',
    ISO20_DC: 'iso15118_20/V2G_CI_DC.xsd',
    ISO20_AC: 'iso15118_20/V2G_CI_AC.xsd',
    ISO20_ACDP: 'iso15118_20/V2G_CI_ACDP.xsd',
    ISO20_WPT: 'iso15118_20/V2G_CI_WPT.xsd',
    XMLDSIG: 'xmldsig-core-schema.xsd',
}

# Roots that EXIficient's V2G codec encodes as EXI fragments (signed parts), by namespace.
# Every root in the xmldsig namespace is a fragment.
FRAGMENT_ROOTS = {
    ISO2: frozenset({
        'CertificateInstallationReq', 'AuthorizationReq', 'MeteringReceiptReq', 'SignedInfo',
        'ContractSignatureCertChain', 'ContractSignatureEncryptedPrivateKey', 'DHpublickey',
        'eMAID', 'SalesTariff'}),
    ISO20_COMMON: frozenset({'OEMProvisioningCertificateChain', 'PnC_AReqAuthorizationMode'}),
}


# EXIficient's precompiled grammars do not bound large repeats in content models that Xerces
# builds with counting leaves: a repeat of maxOccurs >= this value is a loop (a 17th
# SelectedService still has a first-level event code in -2; the coder counts items to refuse
# it); smaller bounds are unrolled. The values
# differ per grammar and were found by the differential tests: -2 unrolls 2, 4, 6, 8 and loops
# from 16 (16, 20, 1024 seen); -20 unrolls 3, 16, 20, 32 and loops at 1024; the AppProtocol
# grammar unrolls 20 (its only bound).
_ISO20_COUNTED_FROM = 1024
COUNTED_REPEATS_FROM = {ISO2: 16, ISO20_COMMON: _ISO20_COUNTED_FROM, ISO20_DC: _ISO20_COUNTED_FROM,
                        ISO20_AC: _ISO20_COUNTED_FROM, ISO20_ACDP: _ISO20_COUNTED_FROM,
                        ISO20_WPT: _ISO20_COUNTED_FROM}
