// dcmjs ships no type declarations; the archive only reads its data dictionary (see dictionary.ts).
declare module 'dcmjs' {
  const dcmjs: unknown;
  export default dcmjs;
}
