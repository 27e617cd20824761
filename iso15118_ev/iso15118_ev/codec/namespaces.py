"""The XML namespaces of the V2G messages: one EXI grammar set each."""

APP_PROTOCOL = 'urn:iso:15118:2:2010:AppProtocol'
DIN = 'urn:din:70121:2012:MsgDef'
ISO2 = 'urn:iso:15118:2:2013:MsgDef'
ISO20_COMMON = 'urn:iso:std:iso:15118:-20:CommonMessages'
ISO20_DC = 'urn:iso:std:iso:15118:-20:DC'
ISO20_AC = 'urn:iso:std:iso:15118:-20:AC'
ISO20_ACDP = 'urn:iso:std:iso:15118:-20:ACDP'
ISO20_WPT = 'urn:iso:std:iso:15118:-20:WPT'
XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#'
