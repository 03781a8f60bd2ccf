package nickname

// Word lists of zoo's nicknames. Appending words is safe (existing ids
// stay valid); removing or reordering them is not.

var adjectives = []string{
	"able", "adaptable", "adventurous", "agile", "alert", "amiable", "ample", "artful",
	"attentive", "balanced", "bold", "brave", "breezy", "bright", "brisk", "calm",
	"candid", "capable", "careful", "charming", "cheerful", "clever", "cosy", "courteous",
	"curious", "dapper", "daring", "dazzling", "decisive", "deft", "devoted", "diligent",
	"discreet", "dreamy", "dutiful", "eager", "earnest", "easygoing", "elegant", "eloquent",
	"energetic", "even", "exact", "fair", "faithful", "fearless", "fine", "firm",
	"fluent", "focused", "fond", "frank", "friendly", "frugal", "gallant", "generous",
	"gentle", "genuine", "gifted", "glad", "gleeful", "graceful", "gracious", "grateful",
	"hardy", "helpful", "honest", "hopeful", "humble", "jolly", "jovial", "joyful",
	"just", "keen", "kind", "lively", "loyal", "lucid", "lucky", "merry",
	"methodical", "mindful", "modest", "neat", "nimble", "noble", "open", "optimistic",
	"orderly", "patient", "peaceful", "perky", "placid", "playful", "pleasant", "plucky",
	"polite", "practical", "precise", "prudent", "punctual", "quick", "quiet", "radiant",
	"rapid", "ready", "reliable", "resolute", "robust", "rosy", "rugged", "sage",
	"sensible", "serene", "sharp", "shrewd", "sincere", "skilful", "sleek", "smart",
	"smooth", "snug", "sociable", "spirited", "splendid", "spry", "stable", "stately",
	"steady", "stellar", "sterling", "stoic", "sturdy", "sunny", "superb", "swift",
	"tactful", "tender", "thorough", "thoughtful", "tidy", "tireless", "tranquil", "trusty",
	"upbeat", "valiant", "vibrant", "vigilant", "vivid", "warm", "wise", "witty",
	"zealous", "zesty",
}

var animals = []string{
	"albatross", "alpaca", "ant", "badger", "bat", "bear", "beaver", "bee",
	"beetle", "bison", "boar", "butterfly", "camel", "cat", "chicken", "chipmunk",
	"cow", "crab", "cricket", "crocodile", "deer", "dodo", "dog", "dolphin",
	"dove", "duck", "eagle", "elephant", "flamingo", "fox", "frog", "gecko",
	"goat", "goose", "gorilla", "hamster", "hedgehog", "heron", "hippo", "horse",
	"jellyfish", "kangaroo", "koala", "ladybird", "lemur", "leopard", "lion", "lizard",
	"llama", "lobster", "mammoth", "moose", "mouse", "octopus", "orca", "ostrich",
	"otter", "owl", "panda", "parrot", "peacock", "penguin", "pig", "rabbit",
	"raccoon", "ram", "rhino", "rooster", "salmon", "scorpion", "seal", "shark",
	"sheep", "shrimp", "skunk", "sloth", "snail", "snake", "sparrow", "spider",
	"squid", "swan", "tiger", "turkey", "turtle", "unicorn", "walrus", "whale",
	"wolf", "yak", "zebra",
}

// emojis[i] is the emoji of animals[i].
var emojis = []string{
	"🐦", "🦙", "🐜", "🦡", "🦇", "🐻", "🦫", "🐝",
	"🪲", "🦬", "🐗", "🦋", "🐫", "🐈", "🐔", "🐿️",
	"🐄", "🦀", "🦗", "🐊", "🦌", "🦤", "🐕", "🐬",
	"🕊️", "🦆", "🦅", "🐘", "🦩", "🦊", "🐸", "🦎",
	"🐐", "🪿", "🦍", "🐹", "🦔", "🐦", "🦛", "🐎",
	"🪼", "🦘", "🐨", "🐞", "🐒", "🐆", "🦁", "🦎",
	"🦙", "🦞", "🦣", "🫎", "🐁", "🐙", "🐋", "🐦",
	"🦦", "🦉", "🐼", "🦜", "🦚", "🐧", "🐖", "🐇",
	"🦝", "🐏", "🦏", "🐓", "🐟", "🦂", "🦭", "🦈",
	"🐑", "🦐", "🦨", "🦥", "🐌", "🐍", "🐦", "🕷️",
	"🦑", "🦢", "🐅", "🦃", "🐢", "🦄", "🦭", "🐳",
	"🐺", "🐂", "🦓",
}
