; Shutka's TypeScript query: what the chunker and the code graph read from a syntax tree.
; Used for .ts/.mts/.cts (TypeScript grammar) and, followed by tsx.scm, for .tsx (TSX grammar).
;
; Capture names are the contract with indexer/chunking.py:
;   @definition.<kind>   a node that may become a chunk; <kind> is a ChunkKind
;                        (function, arrow_function, class, method, interface, type_alias, enum,
;                        constant, namespace). Whether it does depends on where it sits: the chunker
;                        keeps top-level, namespace-level and class-level definitions only.
;   @name                the definition's name (missing for anonymous default exports).
;   @import              an import specifier as written.
;   @export              a local name exported by `export { a, b }` or `export default a`.
;   @reference.call / @reference.member_call / @reference.type / @reference.identifier
;                        names a chunk uses; the code graph resolves them to definitions.
; When a node is captured by several patterns, the specific capture wins: for definitions the
; earliest pattern (so specific patterns come first), for references call > type > identifier.

; ---- definitions ---------------------------------------------------------------------------------

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function

(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class

(class_body (method_definition name: (_) @name) @definition.method)
(class_body (method_signature name: (_) @name) @definition.method)
(class_body (abstract_method_signature name: (_) @name) @definition.method)
(class_body
  (public_field_definition
    name: (_) @name
    value: [(arrow_function) (function_expression)]) @definition.method)

(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type_alias
(enum_declaration name: (identifier) @name) @definition.enum

(internal_module name: (_) @name) @definition.namespace
(module name: (_) @name) @definition.namespace

(variable_declarator name: (identifier) @name value: (arrow_function)) @definition.arrow_function
(variable_declarator
  name: (identifier) @name
  value: [(function_expression) (generator_function)]) @definition.function
(variable_declarator name: (identifier) @name) @definition.constant

; `export default function () {}` / `export default class {}`: anonymous, named "default".
(export_statement value: (function_expression) @definition.function)
(export_statement value: (class) @definition.class)

; ---- imports and exports -------------------------------------------------------------------------

(import_statement source: (string (string_fragment) @import))
(export_statement source: (string (string_fragment) @import))
(import_require_clause source: (string (string_fragment) @import))
((call_expression
   function: (identifier) @_require
   arguments: (arguments . (string (string_fragment) @import)))
 (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @import)))

(export_statement !source (export_clause (export_specifier name: (identifier) @export)))
(export_statement value: (identifier) @export)

; ---- references ----------------------------------------------------------------------------------

(call_expression function: (identifier) @reference.call)
(call_expression function: (member_expression property: (property_identifier) @reference.member_call))
(new_expression constructor: (identifier) @reference.call)
(decorator (identifier) @reference.call)
(decorator (call_expression function: (identifier) @reference.call))
(type_identifier) @reference.type
(identifier) @reference.identifier
