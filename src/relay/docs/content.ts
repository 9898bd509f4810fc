// A document's content for a backend that does not speak Yjs: its top-level shared types as JSON. A
// type that only arrived in updates has no class yet on the relay (Yjs learns a type's class when
// code asks for it by kind: getText, getArray, ...), so its kind is read from what it holds: characters
// make a text, XML elements an XML fragment, other list items an array, keys a map. A list whose every
// item was deleted tells nothing and reads as null.
import * as Y from 'yjs';

export type SharedKind = 'text' | 'array' | 'map' | 'xml';

/** `{ name: content }` for every top-level shared type: a text as a string, an XML fragment as XML. */
export function documentJson(doc: Y.Doc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of [...doc.share.keys()].sort()) {
    const kind = kindOf(doc.share.get(name)!);
    out[name] = kind === null ? null : typed(doc, name, kind).toJSON();
  }
  return out;
}

/** The text of a shared type as a string (its XML for an XML fragment); undefined if there is none. */
export function sharedText(doc: Y.Doc, name: string): string | undefined {
  const type = doc.share.get(name);
  if (type === undefined) return undefined;
  const kind = kindOf(type);
  if (kind === null) return '';
  if (kind === 'text' || kind === 'xml') return typed(doc, name, kind).toString();
  return JSON.stringify(typed(doc, name, kind).toJSON());
}

function typed(doc: Y.Doc, name: string, kind: SharedKind): Y.AbstractType<any> {
  switch (kind) {
    case 'text':
      return doc.getText(name);
    case 'array':
      return doc.getArray(name);
    case 'map':
      return doc.getMap(name);
    case 'xml':
      return doc.getXmlFragment(name);
  }
}

/** The kind of a top-level type, from its class or, for one not yet given a class, its content. */
export function kindOf(type: Y.AbstractType<any>): SharedKind | null {
  if (type instanceof Y.Text) return 'text';
  if (type instanceof Y.Array) return 'array';
  if (type instanceof Y.Map) return 'map';
  if (type instanceof Y.XmlFragment) return 'xml';
  for (let item = type._start; item !== null; item = item.right) {
    if (item.deleted) continue;
    const content = item.content;
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return 'text';
    if (content instanceof Y.ContentType && (content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText)) return 'xml';
    return 'array';
  }
  if (type._start === null && type._map.size > 0) return 'map';
  return null;
}
