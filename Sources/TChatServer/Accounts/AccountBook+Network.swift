import TChatProtocol

/// The book's side of keeping accounts alike across a network (`AccountSync` has the rules): what a new link is
/// told, and records heard from linked servers, merged into the store on the book's pool in batches.
extension AccountBook {
    /// Everything a newly linked server is told: accounts, bans, removals.
    var records: [NetworkRecord] { AccountSync.records(of: state.withLock { $0.file }) }

    /// Takes a record a linked server told of; it is merged into the store on the pool, with those heard meanwhile,
    /// in one write.
    func hear(_ record: NetworkRecord) {
        let queue = state.withLock { state -> Bool in
            guard state.heard.count < Self.maxHeard else { return false }
            state.heard.append(record)
            defer { state.mergeQueued = true }
            return !state.mergeQueued
        }
        guard queue else { return }
        pool.submit { [self] poolState in
            guard case .active = poolState else { return }
            mergeHeard()
        }
    }

    /// Merges what was heard into the store. Blocking: on the pool.
    func mergeHeard() {
        let heard = state.withLock { state in
            defer {
                state.heard = []
                state.mergeQueued = false
            }
            return state.heard
        }
        guard !heard.isEmpty else { return }
        do {
            let now = Timestamp.now()
            var kept = 0
            let stored = try storage.updateIfChanged({ file in
                var merger = AccountSync.Merger(
                    file, now: now, maxAccounts: Self.maxAccounts, maxBans: Self.maxServerBans, operators: operators)
                for record in heard {
                    do {
                        try merger.merge(record)
                    } catch AccountSync.Refusal.invalid(let why) {
                        logger.notice("a linked server's account record was refused", metadata: ["why": "\(why)"])
                    } catch {
                        continue  // older than what is here, or no room
                    }
                }
                kept = merger.kept
                guard kept > 0 else { return false }
                merger.finish(into: &file)
                return true
            })
            guard let stored else { return }  // nothing new: the store is not written
            adopt(stored.file, version: stored.version, heard: Set(heard))
            logger.info("accounts merged from the network", metadata: ["records": "\(kept)"])
        } catch {
            logger.error("accounts from the network not merged", metadata: ["error": "\(error)"])
        }
    }

    /// Whether the account with this key was dropped (and is not registered again).
    func wasDropped(_ key: String) -> Bool {
        state.withLock { state in
            state.accounts[key] == nil && state.droppedKeys.contains(key)
        }
    }

    /// A linked server's OPERATORS: its `--operator` accounts are operators here too, while it is linked.
    func setOperators(_ names: [String], of serverID: UInt64) {
        state.withLock { $0.remoteOperators[serverID] = Set(names.map { Nick.key(for: $0) }) }
    }

    func forgetOperators(of serverID: UInt64) {
        state.withLock { $0.remoteOperators[serverID] = nil }
    }

}
