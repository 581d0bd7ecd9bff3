// Under Node (and bundlers) the client reaches openapi-fetch through this file. The app serves
// /client/openapi-fetch.js as openapi-fetch's own ES module file instead, so a browser loads
// index.js with no import map and no build step (docs/client.md).
export { default } from "openapi-fetch";
