// The xmlrpc package's serializer/deserializer modules ship no types.
declare module "xmlrpc/lib/deserializer.js" {
  const Deserializer: unknown;
  export default Deserializer;
}
declare module "xmlrpc/lib/serializer.js" {
  const serializer: unknown;
  export default serializer;
}
