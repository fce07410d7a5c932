/**
 * XML in and out: a tiny builder for S3's response documents and strict parsers for the request documents the
 * server accepts (CompleteMultipartUpload, Tagging, Delete). Malformed input raises `MalformedXML`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors, type S3Error } from './errors';

/** The namespace S3 puts on its response documents. */
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A value the builder can render; `undefined`/`null` omit the element, arrays repeat it. */
export type XmlValue = string | number | boolean | Date | XmlElement | readonly XmlValue[] | undefined | null;

/** Child elements, in document order. */
export interface XmlElement {
  readonly [name: string]: XmlValue;
}

// XML 1.0 cannot carry most C0 controls literally; S3 emits them as character references, and so do we.
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes text for use in element content or attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\p{Cc}]/gu, (ch) => {
    const escaped = ESCAPES[ch];
    if (escaped !== undefined) return escaped;
    const code = ch.charCodeAt(0);
    return code >= 0x20 || ch === '\t' || ch === '\n' || ch === '\r' ? ch : `&#x${code.toString(16)};`;
  });
}

function renderValue(value: Exclude<XmlValue, readonly XmlValue[] | undefined | null>): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return renderChildren(value);
  return escapeXml(String(value));
}

function renderElement(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((item: XmlValue) => renderElement(name, item)).join('');
  return `<${name}>${renderValue(value as Exclude<XmlValue, readonly XmlValue[] | undefined | null>)}</${name}>`;
}

function renderChildren(element: XmlElement): string {
  return Object.entries(element)
    .map(([name, value]) => renderElement(name, value))
    .join('');
}

/**
 * Renders a complete XML document the way S3 does: declaration, root element in the S3 namespace, no whitespace.
 * @param root Root element name, e.g. `ListBucketResult`.
 * @param body Child elements in order.
 * @param namespace Namespace of the root element; `null` for none (S3's `<Error>` has none).
 */
export function xmlDocument(root: string, body: XmlElement, namespace: string | null = S3_NAMESPACE): string {
  const ns = namespace === null ? '' : ` xmlns="${namespace}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${renderChildren(body)}</${root}>`;
}

const REPEATED = new Set(['Part', 'Tag', 'Object']);
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  ignoreDeclaration: true,
  isArray: (name) => REPEATED.has(name),
});

type Node = Record<string, unknown>;

function parseDocument(text: string, root: string): Node {
  if (text.trim() === '' || /<!DOCTYPE|<!ENTITY/i.test(text) || XMLValidator.validate(text) !== true) {
    throw errors.malformedXml();
  }
  const doc = parser.parse(text) as Node;
  const rootNode = doc[root];
  if (rootNode === '') return {};
  if (typeof rootNode !== 'object' || rootNode === null || Array.isArray(rootNode))
    throw errors.malformedXml();
  return rootNode as Node;
}

function childNodes(node: Node, name: string): Node[] {
  const value = node[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw errors.malformedXml();
  return value.map((item) => {
    if (item === '') return {};
    if (typeof item !== 'object' || item === null) throw errors.malformedXml();
    return item as Node;
  });
}

function text(node: Node, name: string): string | undefined {
  const value = node[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw errors.malformedXml();
  return value;
}

function requiredText(node: Node, name: string): string {
  const value = text(node, name);
  if (value === undefined) throw errors.malformedXml();
  return value;
}

/** One `<Part>` of a CompleteMultipartUpload request. */
export interface CompletedPartInput {
  readonly partNumber: number;
  readonly etag: string;
  /** Additional checksums sent with the part, keyed by S3 element name (e.g. `ChecksumCRC32`). */
  readonly checksums: Readonly<Record<string, string>>;
}

const PART_CHECKSUM_ELEMENTS = [
  'ChecksumCRC32',
  'ChecksumCRC32C',
  'ChecksumCRC64NVME',
  'ChecksumSHA1',
  'ChecksumSHA256',
];

/** Parses a `<CompleteMultipartUpload>` body. Part-number validity is checked by the caller. */
export function parseCompleteMultipartUpload(body: string): CompletedPartInput[] {
  const root = parseDocument(body, 'CompleteMultipartUpload');
  const parts = childNodes(root, 'Part').map((part) => {
    const rawNumber = requiredText(part, 'PartNumber').trim();
    if (!/^\d{1,9}$/.test(rawNumber)) throw errors.malformedXml();
    const checksums: Record<string, string> = {};
    for (const name of PART_CHECKSUM_ELEMENTS) {
      const value = text(part, name);
      if (value !== undefined) checksums[name] = value.trim();
    }
    return { partNumber: Number(rawNumber), etag: requiredText(part, 'ETag').trim(), checksums };
  });
  if (parts.length === 0) throw errors.malformedXml();
  return parts;
}

/** A single object tag. */
export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** Parses a `<Tagging><TagSet><Tag>…` body. */
export function parseTagging(body: string): Tag[] {
  const root = parseDocument(body, 'Tagging');
  const tagSet = root.TagSet;
  if (tagSet === undefined) throw errors.malformedXml();
  if (tagSet === '') return [];
  if (typeof tagSet !== 'object' || tagSet === null || Array.isArray(tagSet)) throw errors.malformedXml();
  return childNodes(tagSet as Node, 'Tag').map((tag) => ({
    key: requiredText(tag, 'Key'),
    value: text(tag, 'Value') ?? '',
  }));
}

/** The body of a DeleteObjects request. */
export interface DeleteRequest {
  readonly keys: string[];
  readonly quiet: boolean;
}

/** Parses a `<Delete>` body (at most 1000 keys, as S3 enforces). */
export function parseDelete(body: string): DeleteRequest {
  const root = parseDocument(body, 'Delete');
  const keys = childNodes(root, 'Object').map((object) => requiredText(object, 'Key'));
  if (keys.length === 0 || keys.length > 1000) throw errors.malformedXml();
  return { keys, quiet: text(root, 'Quiet')?.trim() === 'true' };
}

/** Renders an error document (S3's `<Error>` element carries no namespace). */
export function errorDocument(error: S3Error, resource: string, requestId: string, hostId: string): string {
  return xmlDocument(
    'Error',
    {
      Code: error.code,
      Message: error.message,
      ...error.details,
      Resource: resource,
      RequestId: requestId,
      HostId: hostId,
    },
    null,
  );
}
