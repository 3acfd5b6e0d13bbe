; Shutka's TSX additions: appended to typescript.scm for .tsx files (TSX grammar).
; Capture names follow typescript.scm. A JSX element names the component it renders,
; which the code graph treats like a call.

(jsx_opening_element name: (identifier) @reference.call)
(jsx_self_closing_element name: (identifier) @reference.call)
(jsx_opening_element name: (member_expression property: (property_identifier) @reference.member_call))
(jsx_self_closing_element name: (member_expression property: (property_identifier) @reference.member_call))
