package infer

// DownloadStem is downloadStem, for the tests.
var DownloadStem = downloadStem
